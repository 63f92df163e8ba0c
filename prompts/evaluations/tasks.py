"""Celery tasks of the evaluations app. Each calls a service and is safe to run twice."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from prompts.evaluations import runs, schedules
from prompts.evaluations.models import Model

# A run longer than one task time limit goes on in a new delivery (which records only the
# missing cases), this many times; then it ends as an error with what it recorded.
RUN_RESUMES = 10


@shared_task(bind=True, ignore_result=True, max_retries=RUN_RESUMES)
def run_evaluation(self, run_id: int) -> str | None:
    """One run: every case of its suite not yet recorded, then its final state. A re-delivered
    message resumes the missing cases; a finished or cancelled run is left alone."""
    try:
        run = runs.run_execute(run_id=run_id)
    except SoftTimeLimitExceeded:
        if self.request.retries < RUN_RESUMES:
            raise self.retry(countdown=0) from None
        limit = settings.CELERY_TASK_SOFT_TIME_LIMIT * (RUN_RESUMES + 1)
        run = runs.run_fail(run_id=run_id, error=f"The run did not finish within {limit} s.")
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
