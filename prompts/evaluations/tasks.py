"""Celery tasks of the evaluations app. Each calls a service and is safe to run twice."""

from celery import shared_task

from prompts.evaluations import runs, schedules
from prompts.evaluations.models import Model


@shared_task(ignore_result=True)
def run_evaluation(run_id: int) -> str | None:
    """One run: every case of its suite not yet recorded, then its final state. A re-delivered
    message resumes the missing cases; a finished or cancelled run is left alone."""
    run = runs.run_execute(run_id=run_id)
    return run.state if run is not None else None


# --- Schedules (nightly runs, model releases) ---------------------------------------------------


@shared_task(ignore_result=True)
def nightly_evaluations() -> int:
    """Beat's nightly entry (`evaluations-nightly`): the production prompts' suites on their
    configured and watched models. Returns how many runs it started; a second call in the same
    night starts none."""
    return len(schedules.nightly_start())


@shared_task(ignore_result=True)
def evaluate_model_release(model_id: int) -> int:
    """A model was registered or its release date changed: run the suites of the prompts
    naming it or its family on it, once (queued twice, the second starts none)."""
    model = Model.objects.filter(pk=model_id).first()
    if model is None:
        return 0
    return len(schedules.model_release_start(model=model))
