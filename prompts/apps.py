from django.apps import AppConfig


class PromptsConfig(AppConfig):
    name = "prompts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from prompts import resolve
        from teams import hooks

        hooks.namespace_changed.register(resolve.namespace_changed)
