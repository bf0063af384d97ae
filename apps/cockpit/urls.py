from django.urls import path

from .views import api

app_name = "cockpit"
urlpatterns: list = [
    path("api/desk", api.desk, name="api_desk"),
    path("api/<slug:account>/snapshot", api.snapshot, name="api_snapshot"),
    *[
        path(f"api/<slug:account>/{action}", api.press, {"action": action}, name=f"api_{action}")
        for action in ("stop", "cancel", "flat", "unlock")
    ],
]
