"""Celery tasks of the metrics app (beat rows: migration 0002). Each calls a service and is safe
to run twice."""

from celery import shared_task

from prompts.metrics import guardrails, rollups


@shared_task(ignore_result=True)
def rollup_dirty_hours() -> int:
    """Every minute: recompute the prompt-hours that got events since the last run."""
    return rollups.rollup_dirty_hours()


@shared_task(ignore_result=True)
def maintain_partitions() -> dict:
    """Daily: event partitions ahead, and retention (partitions, keys, rollups)."""
    return rollups.retention_apply()


@shared_task(ignore_result=True)
def evaluate_guardrails() -> int:
    """Every minute: stop each running experiment with a breached guardrail (the number of
    breaches found in the experiments it stopped)."""
    return len(guardrails.guardrails_evaluate())
