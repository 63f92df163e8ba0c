"""Shared world of the metrics tests: an internal namespace `support` (prompt `refund-reply`,
versions 1–3), a private namespace `secret` of another team (prompt `hidden`), a running
experiment on refund-reply in production (A: v1 control, B: v2), and helpers to post events."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from prompts.models import Environment, Experiment, ExperimentArm
from prompts.services import version_create
from tests.api.conftest import personal_client, service_client
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    UserFactory,
    system_actor,
)

EVENTS_URL = "/api/v1/events/"
_keys = itertools.count()


def event(**fields) -> dict:
    """A valid record for support/refund-reply v1 in production, a fresh key each call."""
    record = {
        "prompt": "support/refund-reply",
        "version": 1,
        "environment": "production",
        "latency_ms": 120.5,
        "input_tokens": 10,
        "output_tokens": 20,
        "cost_usd": 0.002,
        "model": "gpt-x",
        "idempotency_key": f"key-{next(_keys)}",
        "occurred_at": (timezone.now() - dt.timedelta(minutes=5)).isoformat(),
    }
    record.update(fields)
    return record


def post(client, events, **kwargs):
    return client.post(EVENTS_URL, {"events": events}, format="json", **kwargs)


class MetricsWorld:
    def __init__(self):
        self.admin = system_actor()
        self.support = NamespaceFactory(slug="support", visibility="internal")
        self.secret = NamespaceFactory(slug="secret", visibility="private")
        self.prompt = PromptFactory(namespace=self.support, name="refund-reply")
        self.versions = [
            version_create(prompt=self.prompt, author=self.admin, template=f"Hi v{n}")
            for n in (1, 2, 3)
        ]
        self.hidden = PromptFactory(namespace=self.secret, name="hidden")
        version_create(prompt=self.hidden, author=self.admin, template="Secret")
        self.production = Environment.objects.get(slug="production")
        self.experiment = Experiment.objects.create(
            prompt=self.prompt,
            environment=self.production,
            state=Experiment.State.RUNNING,
            hypothesis="v2 answers better",
            primary_metric=Experiment.Metric.QUALITY_SCORE,
            created_by=self.admin,
            started_at=timezone.now() - dt.timedelta(days=1),
        )
        ExperimentArm.objects.create(
            experiment=self.experiment,
            label="A",
            version=self.versions[0],
            weight=50,
            is_control=True,
        )
        ExperimentArm.objects.create(
            experiment=self.experiment, label="B", version=self.versions[1], weight=50
        )
        self.reader = UserFactory(username="reader")
        self.secret_member = UserFactory(username="secret-member")
        MembershipFactory(team=self.secret.team, user=self.secret_member, role="viewer")
        self.service = service_client(actor=self.admin, namespaces=[self.support])
        self.secret_service = service_client(actor=self.admin, namespaces=[self.secret])
        self.person = personal_client(self.reader)
        self.secret_person = personal_client(self.secret_member)


@pytest.fixture
def world(db):
    return MetricsWorld()
