import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from prompts.models import Environment
from prompts.services import deployment_set, version_create
from teams.models import ApiToken
from teams.tokens import personal_token_create, service_token_create, token_revoke
from tests.factories import NamespaceFactory, PromptFactory, system_actor


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def personal_client(user) -> APIClient:
    _, secret = personal_token_create(actor=user, name=f"{user.username} test token")
    return bearer(secret)


def service_client(*, actor, namespaces) -> APIClient:
    _, secret = service_token_create(actor=actor, namespaces=namespaces, name="test service")
    return bearer(secret)


def revoked_client(user) -> APIClient:
    token, secret = personal_token_create(actor=user, name="soon revoked")
    token_revoke(actor=user, token=token)
    return bearer(secret)


def expired_client(user) -> APIClient:
    token, secret = personal_token_create(
        actor=user, name="soon expired", expires_at=timezone.now() + dt.timedelta(days=1)
    )
    ApiToken.objects.filter(pk=token.pk).update(
        expiry_date=timezone.now() - dt.timedelta(seconds=1)
    )
    return bearer(secret)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_user():
    """`as_user(user)` -> an APIClient that authenticates with a fresh personal token."""
    return personal_client


def problem(response) -> dict:
    assert response["Content-Type"] == "application/problem+json", response.content
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == response.status_code
    return body


class World:
    """A private namespace `support` with prompt `greet`: versions 1, 2, 3 deployed in
    production, staging and development, and a service client for the namespace."""

    def __init__(self):
        self.admin = system_actor()
        self.namespace = NamespaceFactory(slug="support", visibility="private")
        self.env = {e.slug: e for e in Environment.objects.all()}
        self.prompt = PromptFactory(namespace=self.namespace, name="greet")
        self.versions = [
            version_create(
                prompt=self.prompt,
                author=self.admin,
                template=text,
                variables=["name"],
                model_config={"temperature": 0.1 * i},
            )
            for i, text in enumerate(["Hello {{name}}", "Hi {{name}}", "Hey {{name}}"], 1)
        ]
        for slug, index in (("development", 2), ("staging", 1), ("production", 0)):
            self.deploy(slug, index)
        self.service = service_client(actor=self.admin, namespaces=[self.namespace])

    def deploy(self, environment, index):
        deployment_set(
            prompt=self.prompt,
            environment=self.env[environment],
            version=self.versions[index],
            actor=self.admin,
            action="deployment.seeded",
        )

    def get(self, path="support/greet", client=None, **headers):
        return (client or self.service).get(f"/api/v1/resolve/{path}/", **headers)


@pytest.fixture
def world(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return World()
