"""Bearer tokens for the API. Repeated failures from one client are throttled (429)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from portal.cache import cache_incr
from portal.principals import ServicePrincipal
from portal.request_context import note_token
from teams.models import ApiToken
from teams.tokens import TokenRecord, token_authenticate, token_cache_key, token_touch

FAILURE_LIMIT = 20
FAILURE_WINDOW_SECONDS = 60


def client_ip(request) -> str:
    """The caller's address; behind a trusted TLS proxy, the first X-Forwarded-For entry."""
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[0].strip()
        if forwarded:
            return forwarded[:64]
    return request.META.get("REMOTE_ADDR", "unknown")


def bearer_secret(request) -> str | None:
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        return ""


def warm_authentication_cache_key(request) -> str | None:
    """Where `warm_service_principal` looks the token up (for one-round-trip paths). A known
    token passes without the failure counter, so that is read only on the full path."""
    secret = bearer_secret(request)
    return token_cache_key(secret) if secret else None


def failures_key(request) -> str:
    return f"auth-failures:{client_ip(request)}"


class TokenFailureThrottle:
    """Counts failed token authentications per client address in the shared cache."""

    def __init__(self, request: Request) -> None:
        self.key = failures_key(request)

    def check(self, failures: int | None) -> None:
        if (failures or 0) >= FAILURE_LIMIT:
            raise exceptions.Throttled(
                wait=FAILURE_WINDOW_SECONDS,
                detail="Too many failed token authentications from this address; wait a minute.",
            )

    def record_failure(self) -> None:
        cache_incr(self.key, FAILURE_WINDOW_SECONDS)


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`: a personal token acts as its user, a service token as a
    `ServicePrincipal` limited to its namespaces."""

    keyword = b"bearer"

    def authenticate(self, request: Request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header; send 'Authorization: Bearer <token>'."
            )
        throttle = TokenFailureThrottle(request)
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            secret = ""
        token_key = token_cache_key(secret)
        cached = cache.get_many([throttle.key, *([token_key] if token_key else [])])
        known = cached.get(token_key) if token_key else None
        record = token_authenticate(secret, known) if known is not None else None
        if record is None:
            # A known, valid token passes even from a throttled address (proxies share one);
            # unknown ones are refused before they cost a database lookup.
            throttle.check(cached.get(throttle.key))
            record = token_authenticate(secret, None) if token_key else None
        principal = self._principal(record) if record else None
        if principal is None:
            throttle.record_failure()
            raise exceptions.AuthenticationFailed("The token is unknown, revoked or expired.")
        token_touch(record)
        note_token(record.prefix)
        return principal, record

    def _principal(self, record: TokenRecord):
        if record.kind == ApiToken.Kind.SERVICE:
            return service_principal(record)
        return get_user_model().objects.filter(pk=record.user_id, is_active=True).first()

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def service_principal(record: TokenRecord) -> ServicePrincipal:
    return ServicePrincipal(
        token_id=record.id,
        prefix=record.prefix,
        name=record.name,
        namespace_ids=record.namespace_ids,
    )


def warm_service_principal(request, record: object) -> ServicePrincipal | None:
    """The service token behind the request when the cache already knows it as valid (a
    known token passes a throttled address too): `record` is what the caller read at
    `warm_authentication_cache_key`. None means: authenticate the full way."""
    secret = bearer_secret(request)
    if (
        not isinstance(record, TokenRecord)
        or record.kind != ApiToken.Kind.SERVICE
        or token_authenticate(secret, record) is None
    ):
        return None
    token_touch(record)
    note_token(record.prefix)
    return service_principal(record)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "teams.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal token (acts as its user) or a service token "
            "(reads prompts in its namespaces). Create one with POST /api/v1/tokens/ or "
            "`manage.py issue_token USERNAME`.",
        }
