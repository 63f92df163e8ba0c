"""Writes of the metrics app: taking in a batch of call events (the rollup and retention are in
prompts.metrics.rollups and prompts.metrics.retention).

A batch costs a constant number of queries whatever its size: one each for the prompts (scoped
to what the caller may report for), their versions, the environments and the experiments'
arms, then one transaction of three statements: the idempotency keys (`INSERT … ON CONFLICT DO
NOTHING RETURNING`: only the keys that were new come back, so a key is counted once even when
two batches race), the events whose key was new (COPY on PostgreSQL, one multi-row INSERT
elsewhere) and the dirty marks of their prompt-hours for the rollup.
"""

import datetime as dt
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from prompts.metrics import storage
from prompts.metrics.schemas import Errors, EventIn, events_parse
from prompts.models import Environment, ExperimentArm, Prompt, PromptVersion
from teams.permissions import Principal, ServicePrincipal, namespaces_visible_to


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]] = field(default_factory=list)


def _reportable_prompts(*, principal: Principal, names: set[str]) -> dict[str, int]:
    """ "ns/name" → prompt id, for the named prompts the caller may report events for: a
    service token its namespaces', a person those they may read."""
    if not names:
        return {}
    pairs = [name.split("/", 1) for name in names]
    queryset = Prompt.objects.filter(
        reduce(or_, (Q(namespace__slug=ns, name=name) for ns, name in pairs))
    )
    if isinstance(principal, ServicePrincipal):
        queryset = queryset.filter(namespace_id__in=principal.namespace_ids)
    else:
        queryset = queryset.filter(namespace__in=namespaces_visible_to(user=principal))
    return {
        f"{ns}/{name}": pk for pk, ns, name in queryset.values_list("pk", "namespace__slug", "name")
    }


@dataclass
class _References:
    prompts: dict[str, int]
    versions: dict[tuple[int, int], int]
    environments: dict[str, int]
    # experiment id → (prompt id, environment id, {label: version id})
    experiments: dict[int, tuple[int, int, dict[str, int]]]


def _references(*, principal: Principal, events: list[EventIn]) -> _References:
    prompts = _reportable_prompts(principal=principal, names={e.prompt for e in events})
    numbers = {e.version for e in events if e.prompt in prompts}
    versions = {}
    if numbers:
        rows = PromptVersion.objects.filter(
            prompt_id__in=set(prompts.values()), number__in=numbers
        ).values_list("prompt_id", "number", "pk")
        versions = {(prompt_id, number): pk for prompt_id, number, pk in rows}
    environments = dict(
        Environment.objects.filter(slug__in={e.environment for e in events}).values_list(
            "slug", "pk"
        )
    )
    experiments: dict[int, tuple[int, int, dict[str, int]]] = {}
    wanted = {e.experiment for e in events if e.experiment is not None and e.prompt in prompts}
    if wanted:
        arms = ExperimentArm.objects.filter(
            experiment_id__in=wanted, experiment__prompt_id__in=set(prompts.values())
        ).values_list(
            "experiment_id",
            "experiment__prompt_id",
            "experiment__environment_id",
            "label",
            "version_id",
        )
        for experiment_id, prompt_id, environment_id, label, version_id in arms:
            experiments.setdefault(experiment_id, (prompt_id, environment_id, {}))[2][label] = (
                version_id
            )
    return _References(prompts, versions, environments, experiments)


def _check(event: EventIn, refs: _References, *, now: dt.datetime) -> tuple[Errors, dict | None]:
    """The database and clock checks of one record: its errors, or the row to store."""
    errors: Errors = {}
    prompt_id = refs.prompts.get(event.prompt)
    environment_id = refs.environments.get(event.environment)
    if prompt_id is None:
        errors["prompt"] = [f"no prompt {event.prompt}"]
    if environment_id is None:
        errors["environment"] = [f"no environment {event.environment}"]
    if event.occurred_at > now + dt.timedelta(seconds=settings.METRICS_MAX_FUTURE_SECONDS):
        seconds = settings.METRICS_MAX_FUTURE_SECONDS
        errors["occurred_at"] = [f"more than {seconds} seconds in the future"]
    elif event.occurred_at < now - dt.timedelta(days=settings.METRICS_RETENTION_DAYS):
        days = settings.METRICS_RETENTION_DAYS
        errors["occurred_at"] = [f"older than the retention window of {days} days"]
    if prompt_id is None:
        return errors, None
    version_id = refs.versions.get((prompt_id, event.version))
    if version_id is None:
        errors["version"] = [f"no version {event.version} of {event.prompt}"]
    arm = event.arm or ""
    if event.experiment is not None:
        experiment = refs.experiments.get(event.experiment)
        if experiment is None or experiment[:2] != (prompt_id, environment_id):
            errors["experiment"] = [
                f"no experiment {event.experiment} of {event.prompt} in {event.environment}"
            ]
        elif version_id is not None:
            arms = experiment[2]
            if not arm:
                arm = next((label for label, v in arms.items() if v == version_id), "")
                if not arm:
                    errors["version"] = [
                        f"version {event.version} is no arm of experiment {event.experiment}"
                    ]
            elif arm not in arms:
                errors["arm"] = [f"experiment {event.experiment} has no arm {arm}"]
            elif arms[arm] != version_id:
                errors["arm"] = [f"arm {arm} of experiment {event.experiment} is another version"]
    if errors:
        return errors, None
    return errors, {
        "occurred_at": event.occurred_at,
        "prompt_id": prompt_id,
        "version_id": version_id,
        "environment_id": environment_id,
        "experiment_id": event.experiment,
        "arm": arm,
        "model": event.model,
        "subject": event.subject or "",
        "latency_ms": event.latency_ms,
        "input_tokens": event.input_tokens,
        "output_tokens": event.output_tokens,
        "cost_usd": event.cost_usd,
        "quality_score": event.quality_score,
        "feedback": event.feedback or 0,
        "error": event.error,
        "idempotency_key": event.idempotency_key,
        "metadata": event.metadata,
    }


def events_ingest(
    *, principal: Principal, records: list[Any], now: dt.datetime | None = None
) -> IngestResult:
    """Store the good records of a batch (at most MAX_BATCH, parsed from JSON); report the bad
    ones by index. A key already seen for the prompt (in an earlier batch, a concurrent one or
    earlier in this one) is a duplicate: counted, never stored twice."""
    now = now or timezone.now()
    parsed, rejected = events_parse(records)
    refs = _references(principal=principal, events=list(parsed.values()))
    rows: list[dict] = []
    seen: set[tuple[int, str]] = set()
    duplicates = 0
    for index, event in parsed.items():
        errors, row = _check(event, refs, now=now)
        if errors:
            rejected[index] = errors
        elif (row["prompt_id"], row["idempotency_key"]) in seen:
            duplicates += 1
        else:
            seen.add((row["prompt_id"], row["idempotency_key"]))
            rows.append(row)
    accepted = 0
    if rows:
        storage.partitions_ensure(rows=rows)
        with transaction.atomic():
            new = storage.keys_claim(rows=rows)
            fresh = [r for r in rows if (r["prompt_id"], r["idempotency_key"]) in new]
            storage.events_insert(rows=fresh, received_at=now)
            storage.hours_mark_dirty(rows=fresh, marked_at=now)
        accepted = len(fresh)
        duplicates += len(rows) - accepted
    report = [{"index": index, "errors": rejected[index]} for index in sorted(rejected)]
    return IngestResult(accepted=accepted, duplicates=duplicates, rejected=report)
