from django.apps import AppConfig


class UniversesConfig(AppConfig):
    name = "apps.universes"
    label = "universes"
