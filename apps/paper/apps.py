from django.apps import AppConfig


class PaperConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.paper"
    label = "paper"
    verbose_name = "Paper venue: simulated accounts, orders, executions, positions"
