from django.urls import path

from . import views

app_name = "universes"
urlpatterns = [path("", views.universe_page, name="detail_default")]
