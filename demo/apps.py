from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data (`bootstrap_demo`): a consumer of every app's services, so it sits above
    them all."""

    name = "demo"
    default_auto_field = "django.db.models.BigAutoField"
