from django.urls import path

from . import views

app_name = "marketdata"
urlpatterns = [path("", views.data_page, name="data")]
