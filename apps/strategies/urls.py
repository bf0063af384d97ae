from django.urls import path

from . import views

app_name = "strategies"
urlpatterns = [
    path("", views.index, name="index"),
    path("approvals/", views.index, name="approvals"),
]
