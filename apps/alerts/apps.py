from django.apps import AppConfig


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.alerts"
    verbose_name = "Alerts: records and delivery"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the `alerts` system check
