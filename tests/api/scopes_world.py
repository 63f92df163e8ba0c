"""The world of the scoped-token tests (test_permission_matrix_scopes.py for the matrix,
test_token_scopes_rules.py for the creation rules and limits).

Team `alpha` owns the private namespace `alpha` (prompt `greet`: versions 1 and 2 ran in
staging, which runs 2 now; version 3 runs in development and `req` asks for it in staging) and
the internal `alpha-open` (prompt `hello`: `lead` asks for version 1 in staging). Team `beta`
owns the internal `beta` (prompt `bprompt`) and the private `beta-private`. `lead` owns alpha,
maintains beta and holds the promotion right on alpha/staging: as a person they may do every
operation of the matrix.
"""

import datetime as dt

from django.utils import timezone

from approvals.models import PromotionRequest
from approvals.services import promotion_request, promotion_right_grant
from portal.audit.models import AuditEntry
from prompts.metrics.models import CallEvent
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from prompts.services import deployment_set, version_create
from teams.models import ApiToken, Membership, Namespace
from teams.tokens import personal_token_create
from tests.api.conftest import bearer
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    TeamFactory,
    UserFactory,
    system_actor,
)

P = "/api/v1/prompts/alpha/greet"


class ScopesWorld:
    def __init__(self):
        admin = system_actor()
        alpha, beta = TeamFactory(slug="alpha"), TeamFactory(slug="beta")
        self.lead, req = UserFactory(username="lead"), UserFactory(username="req")
        UserFactory(username="newbie")
        MembershipFactory(team=alpha, user=self.lead, role="owner")
        MembershipFactory(team=alpha, user=req, role="maintainer")
        MembershipFactory(team=beta, user=self.lead, role="maintainer")
        self.alpha = NamespaceFactory(slug="alpha", team=alpha, visibility="private")
        self.open = NamespaceFactory(slug="alpha-open", team=alpha, visibility="internal")
        self.beta = NamespaceFactory(slug="beta", team=beta, visibility="internal")
        NamespaceFactory(slug="beta-private", team=beta, visibility="private")
        env = {e.slug: e for e in Environment.objects.all()}
        promotion_right_grant(
            actor=admin, namespace=self.alpha, environment=env["staging"], user=self.lead
        )
        greet = PromptFactory(namespace=self.alpha, name="greet")
        versions = [
            version_create(prompt=greet, author=admin, template=t, variables=["name"])
            for t in ("Hello {{name}}", "Hi {{name}}", "Hey {{name}}")
        ]
        for environment, version in (
            ("staging", versions[0]),
            ("staging", versions[1]),
            ("development", versions[2]),
        ):
            deployment_set(
                prompt=greet,
                environment=env[environment],
                version=version,
                actor=admin,
                action="deployment.seeded",
            )
        self.pending = promotion_request(
            actor=req,
            prompt=greet,
            version=versions[2],
            environment=env["staging"],
            justification="Ready.",
        )
        hello = PromptFactory(namespace=self.open, name="hello")
        hello_v1 = version_create(prompt=hello, author=admin, template="Hello", variables=[])
        deployment_set(
            prompt=hello,
            environment=env["development"],
            version=hello_v1,
            actor=admin,
            action="deployment.seeded",
        )
        self.own = promotion_request(
            actor=self.lead,
            prompt=hello,
            version=hello_v1,
            environment=env["staging"],
            justification="Mine.",
        )
        bprompt = PromptFactory(namespace=self.beta, name="bprompt")
        version_create(prompt=bprompt, author=admin, template="Beta", variables=[])

    def token(self, *, user=None, **limits):
        return bearer(personal_token_create(actor=user or self.lead, name="t", **limits)[1])


def events(prompt: str, key: str = "scopes-1") -> dict:
    at = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    record = {"prompt": prompt, "version": 1, "environment": "staging", "latency_ms": 5}
    return {"events": [{**record, "idempotency_key": key, "occurred_at": at}]}


def snapshot() -> dict:
    return {
        "audit": AuditEntry.objects.count(),
        "events": CallEvent.objects.count(),
        "requests": list(PromotionRequest.objects.order_by("pk").values_list("pk", "state")),
        "deployments": list(Deployment.objects.order_by("pk").values_list("pk", "version_id")),
        "versions": PromptVersion.objects.count(),
        "prompts": list(Prompt.objects.order_by("pk").values_list("pk", "description", "state")),
        "tokens": ApiToken.objects.count(),
        "members": Membership.objects.count(),
        "namespaces": list(Namespace.objects.order_by("pk").values_list("pk", "description")),
    }
