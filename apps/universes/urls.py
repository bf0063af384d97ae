from django.urls import path

from . import views

app_name = "universes"
urlpatterns = [
    path("", views.universe_detail, name="detail_default"),
    path("<slug:name>/", views.universe_detail, name="detail"),
]
