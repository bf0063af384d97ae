from django.urls import path

from . import views

app_name = "marketdata"
urlpatterns = [
    path("", views.data_page, name="data"),
    path("imports/<int:pk>/", views.import_run_detail, name="import_run"),
]
