from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Foreign APIs on our data (the Langfuse-compatible prompt API, OTLP ingest) and
    importers. It calls the services of the apps below; nothing imports it."""

    name = "integrations"
    label = "integrations"
    default_auto_field = "django.db.models.BigAutoField"
