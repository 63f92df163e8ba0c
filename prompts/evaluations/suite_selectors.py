"""Reads of suites and cases, scoped by a prompt the caller may already see."""

from django.db.models import Count, QuerySet

from portal.errors import NotFound
from prompts.evaluations.models import Case, Suite
from prompts.models import Prompt


def suites_of(*, prompt: Prompt) -> QuerySet[Suite]:
    return (
        Suite.objects.filter(prompt=prompt)
        .select_related("prompt__namespace__team", "created_by")
        .annotate(case_count=Count("cases"))
        .order_by("name", "pk")
    )


def suite_get(*, prompt: Prompt, suite_id: int) -> Suite:
    suite = suites_of(prompt=prompt).filter(pk=suite_id).first()
    if suite is None:
        raise NotFound(f"{prompt.full_name} has no suite {suite_id}.")
    return suite


def suite_cases(*, suite: Suite) -> list[Case]:
    return list(suite.cases.order_by("position"))


def case_get(*, suite: Suite, case_id: int) -> Case:
    case = suite.cases.filter(pk=case_id).first()
    if case is None:
        raise NotFound(f"The suite {suite.name} has no case {case_id}.")
    case.suite = suite
    return case
