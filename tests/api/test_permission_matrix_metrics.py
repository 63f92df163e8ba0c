"""The permission matrix of the metrics endpoints (POST /events/, GET …/metrics/), in the world
of test_permission_matrix: every caller, the status, what was stored, and nothing changed when
refused (a refused record is a 202 with the record rejected, so nothing leaks)."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from prompts.metrics.models import CallEvent, EventKey
from tests.api.conftest import problem
from tests.api.test_permission_matrix import (  # noqa: F401 (world is a fixture)
    CALLERS,
    READERS_OF_ALPHA,
    expect,
    snapshot,
    world,
)

pytestmark = pytest.mark.django_db

EVERY_PERSON = dict.fromkeys(("viewer", "outsider", "maintainer", "owner", "promoter", "staff"))


def batch(prompt: str) -> dict:
    at = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    record = {"prompt": prompt, "version": 1, "environment": "production", "latency_ms": 5}
    return {"events": [{**record, "idempotency_key": "matrix-1", "occurred_at": at}]}


def reporting(readers: set[str]) -> dict:
    """202 for every authenticated caller; the record is stored for `readers` only."""
    table = expect(202, service=202)
    return {caller: (status, caller in readers) for caller, status in table.items()}


ALPHA_READERS = {*READERS_OF_ALPHA, "service"}
OPERATIONS = [
    (
        "report events for a private prompt",
        "post",
        "/api/v1/events/",
        batch("alpha/greet"),
        reporting(ALPHA_READERS),
    ),
    (
        "report events for an internal prompt",
        "post",
        "/api/v1/events/",
        batch("alpha-open/hello"),
        reporting(set(EVERY_PERSON)),
    ),
    (
        "metrics of a private prompt",
        "get",
        "/api/v1/prompts/alpha/greet/metrics/",
        None,
        {c: (s, False) for c, s in expect(404, service=200, **READERS_OF_ALPHA).items()},
    ),
    (
        "metrics of an internal prompt",
        "get",
        "/api/v1/prompts/alpha-open/hello/metrics/?group=day",
        None,
        {c: (s, False) for c, s in expect(200, service=404).items()},
    ),
    (
        "metrics of a prompt that does not exist",
        "get",
        "/api/v1/prompts/alpha/nothing/metrics/",
        None,
        {c: (s, False) for c, s in expect(404, service=404).items()},
    ),
]


def stored() -> tuple[int, int]:
    return CallEvent.objects.count(), EventKey.objects.count()


class _Rollback(Exception):
    pass


def call_and_roll_back(client, method, url, body):
    """One request in a savepoint, undone: (response, governed rows changed, events stored)."""
    outcome = {}
    try:
        with transaction.atomic():
            before, events_before = snapshot(), stored()
            response = getattr(client, method)(url, body, format="json")
            events = stored()[0] - events_before[0]
            keys = stored()[1] - events_before[1]
            outcome = {
                "response": response,
                "changed": snapshot() != before,
                "stored": (events, keys),
            }
            raise _Rollback
    except _Rollback:
        pass
    return outcome["response"], outcome["changed"], outcome["stored"]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [pytest.param(*operation[1:], id=operation[0]) for operation in OPERATIONS],
)
def test_permission_matrix_metrics(world, method, path, body, expected):  # noqa: F811
    mismatches = []

    for caller in CALLERS:
        status, stores = expected[caller]
        client = world["clients"][caller]
        response, changed, (events, keys) = call_and_roll_back(client, method, path, body)
        if response.status_code != status:
            mismatches.append(f"{caller}: {response.status_code} != {status} {response.content!r}")
            continue
        if status >= 400:
            problem(response)
        if changed:
            mismatches.append(f"{caller}: the governed rows changed")
        if (events, keys) != (int(stores), int(stores)):
            mismatches.append(f"{caller}: stored {events} events and {keys} keys")
        if method == "post" and status == 202:
            answer = response.json()
            if answer["accepted"] != int(stores):
                mismatches.append(f"{caller}: accepted {answer['accepted']}, expected {stores}")
            if not stores and answer["rejected"][0]["errors"] != {
                "prompt": [f"no prompt {body['events'][0]['prompt']}"]
            }:
                mismatches.append(f"{caller}: refused with {answer['rejected']}")

    assert mismatches == []
