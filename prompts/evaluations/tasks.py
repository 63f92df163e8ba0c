"""Celery tasks of the evaluations app. Each calls a service and is safe to run twice."""

from celery import shared_task

from prompts.evaluations import runs


@shared_task(ignore_result=True)
def run_evaluation(run_id: int) -> str | None:
    """One run: every case of its suite not yet recorded, then its final state. A re-delivered
    message resumes the missing cases; a finished or cancelled run is left alone."""
    run = runs.run_execute(run_id=run_id)
    return run.state if run is not None else None


# --- Schedules (nightly runs, model releases) ---------------------------------------------------
