from django.urls import path

from . import views

app_name = "research"
urlpatterns = [
    path("", views.index, name="index"),
    path("strategies/<int:strategy_id>/backtest/", views.backtest_create, name="backtest_create"),
    path("strategies/<int:strategy_id>/train/", views.training_create, name="training_create"),
    path("strategies/<int:strategy_id>/search/", views.search_create, name="search_create"),
    path("backtests/<int:pk>/", views.backtest_detail, name="backtest_detail"),
    path("backtests/<int:pk>/<str:what>.csv", views.backtest_export, name="backtest_export"),
    path("training/<int:pk>/", views.training_detail, name="training_detail"),
    path("searches/<int:pk>/", views.search_detail, name="search_detail"),
    path("searches/<int:pk>/apply/", views.search_apply, name="search_apply"),
    path("<str:kind>/<int:pk>/status.json", views.job_status_json, name="job_status"),
    path("<str:kind>/<int:pk>/cancel/", views.job_cancel_view, name="job_cancel"),
    path("compare/", views.compare, name="compare"),
]
