"""Demo call events and a running experiment, so the metrics dashboard and the experiment page
show something on a fresh `make run`.

Two weeks of production calls of support/refund-reply and search-ranking/query-rewrite (one
version each, as deployed), then an experiment on query-rewrite in production (80 % v2, the
control, 20 % v3), proposed by erin and approved by frank and grace, and a burst of calls made
since it started in which v3 earns more positive feedback. Everything goes through the
services (the experiment through approval, the events through the ingest service); the events
have fixed idempotency keys, so running again adds nothing. Seeded random numbers: the same
demo every time.
"""

import datetime as dt
import math
import random

from django.utils import timezone

from approvals.services import promotion_approve
from approvals.services.experiments import experiment_propose
from prompts.metrics.rollups import rollup_dirty_hours
from prompts.metrics.schemas import MAX_BATCH
from prompts.metrics.services import events_ingest
from prompts.models import Deployment, Environment, Experiment, Prompt

HISTORY_DAYS = 14
CALLS_PER_DAY = 120
EXPERIMENT_CALLS = 1500
MODEL = "gpt-4o-mini"


def _call(rng: random.Random, *, slow: float, good: float) -> dict:
    latency = rng.lognormvariate(math.log(slow), 0.35)
    tokens_in, tokens_out = rng.randint(300, 900), rng.randint(40, 220)
    feedback = rng.choices([1, -1, 0], weights=[good, 1 - good, 1.5])[0]
    return {
        "latency_ms": round(latency, 1),
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "cost_usd": round(tokens_in * 0.15e-6 + tokens_out * 0.6e-6, 8),
        "quality_score": round(min(1.0, max(0.0, rng.gauss(0.55 + good / 3, 0.12))), 3),
        "feedback": feedback,
        "error": rng.random() < 0.01,
        "model": MODEL,
    }


def _history(prompt: Prompt, now: dt.datetime, rng: random.Random) -> list[dict]:
    production = Deployment.objects.get(prompt=prompt, environment__slug="production")
    start = now - dt.timedelta(days=HISTORY_DAYS)
    records = []
    for i in range(HISTORY_DAYS * CALLS_PER_DAY):
        at = start + dt.timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86_400 - 3_600))
        records.append(
            {
                "prompt": prompt.full_name,
                "version": production.version.number,
                "environment": "production",
                "idempotency_key": f"demo-history-{i}",
                "occurred_at": at.isoformat(),
                "subject": f"user-{rng.randint(1, 900)}",
                **_call(rng, slow=850 if prompt.name == "refund-reply" else 420, good=0.58),
            }
        )
    return records


def _experiment(users) -> Experiment | None:
    prompt = Prompt.objects.get(namespace__slug="search-ranking", name="query-rewrite")
    production = Environment.objects.filter(slug="production").first()
    if production is None or prompt.experiments.exists():
        return None
    control = Deployment.objects.get(prompt=prompt, environment=production).version.number
    candidate = Deployment.objects.get(prompt=prompt, environment__slug="staging").version.number
    experiment = experiment_propose(
        actor=users["erin"],
        prompt=prompt,
        environment=production,
        arms=[{"version": control, "weight": 80}, {"version": candidate, "weight": 20}],
        hypothesis="Asking for the locale makes rewrites that users like more.",
        primary_metric="feedback",
        guardrails=[{"metric": "error_rate", "max_increase": 0.02}],
        justification="Two weeks in staging without a regression.",
    )
    for reviewer in ("frank", "grace"):
        promotion_approve(actor=users[reviewer], request=experiment.promotion_request, comment="go")
    experiment.refresh_from_db()
    return experiment


def _experiment_calls(experiment: Experiment, rng: random.Random) -> list[dict]:
    arms = sorted(experiment.arms.select_related("version"), key=lambda arm: arm.label)
    start = experiment.started_at
    records = []
    for i in range(EXPERIMENT_CALLS):
        arm = arms[0] if rng.random() < arms[0].weight / 100 else arms[1]
        records.append(
            {
                "prompt": experiment.prompt.full_name,
                "version": arm.version.number,
                "environment": experiment.environment.slug,
                "experiment": experiment.pk,
                "arm": arm.label,
                "idempotency_key": f"demo-experiment-{experiment.pk}-{i}",
                "occurred_at": (start + dt.timedelta(milliseconds=i)).isoformat(),
                "subject": f"user-{rng.randint(1, 5000)}",
                **_call(rng, slow=430, good=0.72 if arm.label == "B" else 0.58),
            }
        )
    return records


def seed_calls(*, admin, users) -> int:
    """Returns how many events were stored (0 when the demo already has them)."""
    rng = random.Random(20261201)
    now = timezone.now()
    records = []
    for namespace, name in (("support", "refund-reply"), ("search-ranking", "query-rewrite")):
        prompt = Prompt.objects.get(namespace__slug=namespace, name=name)
        records += _history(prompt, now, rng)
    experiment = _experiment(users)
    if experiment is not None and experiment.is_running:
        records += _experiment_calls(experiment, rng)
    stored = 0
    for offset in range(0, len(records), MAX_BATCH):
        batch = records[offset : offset + MAX_BATCH]
        stored += events_ingest(principal=admin, records=batch).accepted
    rollup_dirty_hours()
    return stored
