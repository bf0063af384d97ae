from django.urls import path

from .views import pages

app_name = "cockpit"
urlpatterns: list = [
    path("", pages.desk, name="desk"),
    path("<slug:account>/", pages.account, name="account"),
]
