from django.apps import AppConfig


class EvaluationsConfig(AppConfig):
    name = "prompts.evaluations"
    label = "evaluations"
    verbose_name = "Evaluations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from prompts.evaluations import hooks, schedules

        # A finished run below the last passing run of its suite, version and model tells
        # the owning team.
        hooks.run_finished.register(schedules.on_run_finished)
