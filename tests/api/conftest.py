import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from teams.models import ApiToken
from teams.tokens import personal_token_create, service_token_create, token_revoke


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
