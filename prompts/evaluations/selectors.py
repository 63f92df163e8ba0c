"""Reads of evaluation runs, scoped to what the caller may see (404, never 403, otherwise)."""

from django.db.models import QuerySet

from portal.errors import NotFound
from prompts.evaluations.models import CaseResult, Model, Run, Suite
from prompts.models import Prompt
from teams.permissions import Principal, namespaces_visible_to


def runs_visible_to(*, user: Principal) -> QuerySet[Run]:
    return Run.objects.filter(
        prompt__namespace__in=namespaces_visible_to(user=user)
    ).select_related("prompt__namespace", "version", "suite", "model", "requested_by")


def run_get(*, user: Principal, run_id: int) -> Run:
    run = runs_visible_to(user=user).filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"No evaluation run {run_id}.")
    return run


def run_results(*, run: Run) -> QuerySet[CaseResult]:
    """One result per recorded case, in the suite's order."""
    return CaseResult.objects.filter(run=run).order_by("position")


def prompt_runs(*, prompt: Prompt) -> QuerySet[Run]:
    return (
        Run.objects.filter(prompt=prompt)
        .select_related("version", "suite", "model", "requested_by")
        .order_by("-created_at", "-pk")
    )


def prompt_suites(*, prompt: Prompt) -> QuerySet[Suite]:
    return Suite.objects.filter(prompt=prompt).order_by("name")


def models_all() -> QuerySet[Model]:
    return Model.objects.order_by("name")
