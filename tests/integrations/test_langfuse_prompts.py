"""The real `langfuse` SDK against a running portal (gunicorn on the suite's PostgreSQL and
Redis): its prompt calls are answered from our data and governed by our rules. The data is
changed through the services in this process, as a person in the portal would change it.

Each test makes its own token: the SDK keeps one client per public key for the process."""

import base64
import datetime as dt

import httpx
import pytest
from django.conf import settings
from django.utils import timezone
from langfuse import Langfuse
from langfuse.api import NotFoundError, UnauthorizedError

from approvals.models import PromotionRequest
from prompts import resolve
from prompts.lifecycle import prompt_deprecate, prompt_retire
from prompts.models import Deployment, Environment, Prompt
from prompts.services import deployment_set, prompt_create, version_create
from teams.tokens import personal_token_create, service_token_create
from tests.factories import MembershipFactory, NamespaceFactory, UserFactory, system_actor
from tests.live import Server, process_environment

pytestmark = pytest.mark.django_db(transaction=True)

QUICK = {"cache_ttl_seconds": 0, "max_retries": 0, "fetch_timeout_seconds": 5}
REPLY = {"customer": "Ada", "amount": "€12", "team": "Support"}


@pytest.fixture
def server(transactional_db):
    """A server per test: the flush between tests makes the content types anew, with other
    ids, and a server kept from an earlier test would name the old ones (guardian's object
    permissions do)."""
    started = Server(process_environment(settings.REDIS_URL)).start()
    yield started
    started.stop()


class World:
    """Private namespace `support` (maintainer max): `refund-reply` (v1 in every environment,
    v2 in development, includes `signature`) and the chat prompt `triage`; private `search`
    with `rank`, and a service token for `search` only."""

    def __init__(self):
        self.admin = system_actor()
        self.max = UserFactory(username="max")
        self.namespace = NamespaceFactory(slug="support", visibility="private")
        MembershipFactory(team=self.namespace.team, user=self.max, role="maintainer")
        self.search = NamespaceFactory(slug="search", visibility="private")
        signature = self.prompt("signature", "The {{team}} team")
        self.refund = self.prompt(
            "refund-reply",
            "Hello {{customer}}, {{amount}} is refunded. {{> support/signature}}",
            "Dear {{customer}}, {{amount}} is on its way. {{> support/signature}}",
        )
        self.triage = prompt_create(
            actor=self.admin, namespace=self.namespace, name="triage", kind=Prompt.Kind.CHAT
        )
        version_create(
            prompt=self.triage,
            author=self.max,
            messages=[
                {"role": "system", "content": "You triage for {{team}}."},
                {"role": "user", "content": "{{ticket}}"},
            ],
            variables=["team", "ticket"],
            model_config={"model": "small", "temperature": 0.1},
            message="first triage",
        )
        for environment in ("development", "staging", "production"):
            self.deploy(signature, environment, 1)
            self.deploy(self.refund, environment, 1)
            self.deploy(self.triage, environment, 1)
        self.deploy(self.refund, "development", 2)
        self.rank = self.prompt("rank", "Rank {{query}}", namespace=self.search, author=self.admin)
        self.deploy(self.rank, "production", 1)

    def prompt(self, name, *texts, namespace=None, author=None):
        prompt = prompt_create(actor=self.admin, namespace=namespace or self.namespace, name=name)
        for text in texts:
            version_create(
                prompt=prompt,
                author=author or self.max,
                template=text,
                variables=sorted(
                    v for v in ("customer", "amount", "query", "team") if f"{{{v}}}" in text
                ),
                model_config={"model": "gpt-4o-mini"},
                message=f"wording of {name}",
            )
        return prompt

    def deploy(self, prompt, environment, number):
        deployment_set(
            prompt=prompt,
            environment=Environment.objects.get(slug=environment),
            version=prompt.versions.get(number=number),
            actor=self.admin,
            action="deployment.seeded",
        )

    def running(self, prompt, environment):
        return Deployment.objects.get(prompt=prompt, environment__slug=environment).version.number


@pytest.fixture
def world():
    return World()


@pytest.fixture
def client_for(server):
    """`client_for(token, secret)` -> a Langfuse SDK client on the portal (shut down after)."""
    made = []

    def make(token, secret):
        client = Langfuse(
            public_key=token.prefix,
            secret_key=secret,
            base_url=server.url,
            tracing_enabled=False,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown()


def _rendered(user, name, variables, environment="production", version=None):
    resolved = resolve.resolve(
        user=user, namespace="support", name=name, environment=environment, version=version
    )
    return resolve.render_resolved(resolved, variables)


def _basic(token, secret) -> dict:
    encoded = base64.b64encode(f"{token.prefix}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def test_get_prompt_by_label_and_version_compiles_as_our_render(world, client_for):
    langfuse = client_for(*personal_token_create(actor=world.max, name="sdk"))
    assert langfuse.auth_check() is True

    production = langfuse.get_prompt("support/refund-reply", **QUICK)
    assert (production.name, production.version) == ("support/refund-reply", 1)
    assert production.config == {"model": "gpt-4o-mini"}
    assert production.commit_message == "wording of refund-reply"
    assert set(production.labels) == {"production", "staging"}
    assert "{{> " not in production.prompt  # the include is inlined
    assert production.compile(**REPLY) == _rendered(world.max, "refund-reply", REPLY)
    assert production.compile(**REPLY).endswith("The Support team")

    development = langfuse.get_prompt("support/refund-reply", label="development", **QUICK)
    pinned = langfuse.get_prompt("support/refund-reply", version=2, **QUICK)
    latest = langfuse.get_prompt("support/refund-reply", label="latest", **QUICK)
    assert development.version == pinned.version == latest.version == 2
    assert set(latest.labels) == {"development", "latest"}
    assert pinned.compile(**REPLY) == _rendered(world.max, "refund-reply", REPLY, version=2)

    chat = langfuse.get_prompt("support/triage", type="chat", **QUICK)
    variables = {"team": "Support", "ticket": "My refund is late"}
    assert [(m["role"], m["content"]) for m in chat.prompt] == [
        ("system", "You triage for {{team}}."),
        ("user", "{{ticket}}"),
    ]
    assert chat.compile(**variables) == _rendered(world.max, "triage", variables)
    assert chat.config == {"model": "small", "temperature": 0.1}


def test_without_a_cache_a_promotion_is_seen_at_once(world, client_for):
    langfuse = client_for(*personal_token_create(actor=world.max, name="sdk"))
    assert langfuse.get_prompt("support/refund-reply", label="staging", **QUICK).version == 1

    world.deploy(world.refund, "staging", 2)

    assert langfuse.get_prompt("support/refund-reply", label="staging", **QUICK).version == 2


def test_create_prompt_makes_a_version_and_production_waits_for_approval(world, client_for):
    langfuse = client_for(*personal_token_create(actor=world.max, name="sdk"))

    created = langfuse.create_prompt(
        name="support/refund-reply",
        prompt="Hi {{customer}}, {{amount}} is refunded today.",
        config={"model": "gpt-4o"},
        labels=["production"],
        commit_message="Say when",
    )

    assert created.version == 3
    assert created.labels == ["latest"]  # production did not move
    version = world.refund.versions.get(number=3)
    assert (version.variables, version.message) == (["amount", "customer"], "Say when")
    assert world.running(world.refund, "production") == 1
    (request,) = PromotionRequest.objects.filter(prompt=world.refund)
    # the version must run in staging (which needs approval) before production
    assert (request.environment.slug, request.version.number, request.state) == (
        "staging",
        3,
        PromotionRequest.State.PENDING,
    )
    assert request.justification == "Say when"

    again = langfuse.api.prompts.create(
        request={
            "name": "support/refund-reply",
            "type": "text",
            "prompt": "Hi {{customer}}, {{amount}} is refunded today.",
            "config": {"model": "gpt-4o"},
            "labels": ["production"],
        }
    )
    extra = again.model_extra
    assert again.version == 3
    assert extra["versionCreated"] is False
    (pending,) = extra["promotionRequests"]
    assert pending["id"] == request.pk
    assert pending["url"].endswith(f"/promotions/{request.pk}/")
    assert extra["labelOutcomes"][0]["state"] == "pending"
    assert PromotionRequest.objects.filter(prompt=world.refund).count() == 1


def test_create_prompt_creates_a_missing_prompt_in_a_namespace(world, client_for):
    langfuse = client_for(*personal_token_create(actor=world.max, name="sdk"))

    created = langfuse.create_prompt(
        name="support/welcome",
        type="chat",
        prompt=[{"role": "system", "content": "Welcome {{name}}"}],
        labels=["development"],
        tags=["onboarding"],
    )

    assert (created.version, sorted(created.labels)) == (1, ["development", "latest"])
    prompt = Prompt.objects.get(namespace=world.namespace, name="welcome")
    assert list(prompt.tags.values_list("slug", flat=True)) == ["onboarding"]
    assert world.running(prompt, "development") == 1
    fetched = langfuse.get_prompt("support/welcome", type="chat", label="development", **QUICK)
    assert fetched.compile(name="Ada") == [{"role": "system", "content": "Welcome Ada"}]


def test_update_prompt_moves_development_at_once_and_asks_for_staging(world, client_for):
    langfuse = client_for(*personal_token_create(actor=world.max, name="sdk"))

    moved = langfuse.update_prompt(
        name="support/refund-reply", version=1, new_labels=["development"]
    )
    assert "development" in moved.labels
    assert world.running(world.refund, "development") == 1

    asked = langfuse.update_prompt(name="support/refund-reply", version=2, new_labels=["staging"])
    assert "staging" not in asked.labels
    assert world.running(world.refund, "staging") == 1
    (request,) = PromotionRequest.objects.filter(prompt=world.refund, state="pending")
    assert (request.environment.slug, request.version.number) == ("staging", 2)
    assert asked.model_extra["promotionRequests"][0]["id"] == request.pk


def test_refusals_raise_the_sdks_own_errors(world, client_for):
    token, secret = personal_token_create(actor=world.max, name="sdk")
    langfuse = client_for(token, secret)
    with pytest.raises(NotFoundError):
        langfuse.get_prompt("support/no-such-prompt", **QUICK)
    with pytest.raises(NotFoundError):
        langfuse.get_prompt("support/refund-reply", label="no-such-label", **QUICK)

    other_token, other_secret = personal_token_create(actor=world.max, name="other")
    wrong = client_for(other_token, other_secret + "x")
    with pytest.raises(UnauthorizedError):
        wrong.get_prompt("support/refund-reply", **QUICK)

    other = client_for(
        *service_token_create(actor=system_actor(), namespaces=[world.search], name="search")
    )
    assert other.get_prompt("search/rank", **QUICK).version == 1
    with pytest.raises(NotFoundError):
        other.get_prompt("support/refund-reply", **QUICK)


def test_deprecated_prompts_carry_headers_and_retired_ones_are_not_found(world, client_for, server):
    token, secret = personal_token_create(actor=world.max, name="sdk")
    successor = world.prompt("refund-reply-2", "New {{customer}} {{amount}}")
    prompt_deprecate(
        actor=world.admin,
        prompt=world.refund,
        reason="Use refund-reply-2.",
        sunset_at=timezone.now() + dt.timedelta(days=30),
        successor=successor,
    )
    url = f"{server.url}/api/public/v2/prompts/support%2Frefund-reply"

    deprecated = httpx.get(url, headers=_basic(token, secret))
    assert deprecated.status_code == 200
    assert all(name in deprecated.headers for name in ("Deprecation", "Sunset", "Link"))
    assert "support/refund-reply-2" in deprecated.headers["Link"]
    assert client_for(token, secret).get_prompt("support/refund-reply", **QUICK).version == 1

    prompt_retire(actor=world.admin, prompt=world.refund, reason="Replaced.")
    with pytest.raises(NotFoundError) as raised:
        client_for(token, secret).get_prompt("support/refund-reply", **QUICK)
    assert raised.value.body["successor"] == "support/refund-reply-2"
    assert "support/refund-reply-2" in raised.value.body["message"]
