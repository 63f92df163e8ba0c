"""Bearer tokens for the API. Repeated failures from one address are throttled (429).

A scoped token is held to its scopes here, for every endpoint at once (teams.scopes), and a
personal token limited to namespaces hands its user on with `token_namespace_ids`, which
teams.permissions consults in every namespace-level check.
"""

from django.contrib.auth import get_user_model
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from portal.addresses import limit_address
from portal.cache import cache_incr
from portal.errors import ErrorCode
from portal.principals import ServicePrincipal
from portal.request_context import note_token
from teams import scopes
from teams.models import ApiToken, Namespace
from teams.tokens import TokenRecord, token_authenticate, token_cache_key, token_touch

FAILURE_LIMIT = 20
FAILURE_WINDOW_SECONDS = 60


def bearer_secret(request) -> str | None:
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        return ""


def warm_authentication_cache_key(request) -> str | None:
    """Where `warm_service_principal` looks the token up (for one-round-trip paths)."""
    secret = bearer_secret(request)
    return token_cache_key(secret) if secret else None


def record_failure(request) -> None:
    """Count a failed token authentication against the caller's address; past FAILURE_LIMIT
    in a minute the answer is 429 instead of 401. Only failures count: a valid token is
    always looked up and served, so one client sending garbage through a shared proxy
    never locks out the others."""
    failures = cache_incr(f"auth-failures:{limit_address(request)}", FAILURE_WINDOW_SECONDS)
    if failures > FAILURE_LIMIT:
        raise exceptions.Throttled(
            wait=FAILURE_WINDOW_SECONDS,
            detail="Too many failed token authentications from this address; wait a minute.",
        )


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`: a personal token acts as its user, a service token as a
    `ServicePrincipal` limited to its namespaces."""

    keyword = b"bearer"

    def authenticate(self, request: Request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            record_failure(request)
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header; send 'Authorization: Bearer <token>'."
            )
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            secret = ""
        return self.authenticate_secret(request, secret)

    def authenticate_secret(self, request: Request, secret: str):
        """(principal, record) for a presented token, its scopes and namespace limit checked
        against the endpoint; for other ways of presenting one (integrations' HTTP Basic)."""
        record = token_authenticate(secret)
        principal = self._principal(record) if record else None
        if principal is None:
            record_failure(request)
            raise exceptions.AuthenticationFailed("The token is unknown, revoked or expired.")
        token_touch(record)
        note_token(record.prefix)
        if not scope_allows(request._request, record):
            scope = scopes.scope_of(_url_name(request._request), request.method)
            raise exceptions.PermissionDenied(scopes.refusal(scope), code=ErrorCode.TOKEN_SCOPE)
        _require_namespace_in_path(request._request, record)
        return principal, record

    def _principal(self, record: TokenRecord):
        if record.kind == ApiToken.Kind.SERVICE:
            return service_principal(record)
        user = get_user_model().objects.filter(pk=record.user_id, is_active=True).first()
        if user is not None and record.namespace_limit is not None:
            user.token_namespace_ids = record.namespace_limit
        return user

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def _url_name(request) -> str | None:
    match = getattr(request, "resolver_match", None)
    return match.url_name if match else None


def _require_namespace_in_path(request, record: TokenRecord) -> None:
    """A namespace named in the path outside a personal token's limit does not exist for it.
    teams.permissions holds the limit everywhere; this also covers reads that skip it for
    internal namespaces (one query, personal tokens only: none on the warm path)."""
    limit = record.namespace_limit
    match = getattr(request, "resolver_match", None)
    slug = match.kwargs.get("namespace") if match and limit is not None else None
    if slug is not None and not Namespace.objects.filter(slug=slug, pk__in=limit).exists():
        raise exceptions.NotFound(f"No namespace {slug} for this token.")


def scope_allows(request, record: TokenRecord) -> bool:
    """Whether the token's scopes cover this endpoint (a token without scopes: its views
    decide, as they always have)."""
    if record.scopes is None:
        return True
    return scopes.covers(record.scopes, _url_name(request), request.method)


def require_scope(request, scope: str) -> None:
    """For a view that needs more than its endpoint's scope for some input (sync's
    `promote` needs `promotions:request`): raise `ScopeRefused` (403, `token_scope`) unless
    the request's token may use `scope`. Sessions are not limited."""
    record = getattr(request, "auth", None)
    if isinstance(record, TokenRecord):
        scopes.require(record.granted, scope)


def service_principal(record: TokenRecord) -> ServicePrincipal:
    return ServicePrincipal(
        token_id=record.id,
        prefix=record.prefix,
        name=record.name,
        namespace_ids=record.namespace_ids,
    )


def warm_service_principal(request, record: object) -> ServicePrincipal | None:
    """The service token behind the request when the cache already knows it as valid:
    `record` is what the caller read at
    `warm_authentication_cache_key`. None means: authenticate the full way."""
    secret = bearer_secret(request)
    if (
        not isinstance(record, TokenRecord)
        or record.kind != ApiToken.Kind.SERVICE
        or not scope_allows(request, record)
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
            "`manage.py issue_token USERNAME`. A token with `scopes` may only call what they "
            "cover (`read`: every GET, resolve/render and a dry-run sync; `versions:write`, "
            "`promotions:request`, `promotions:approve`, `rollback`, `events:write`); other "
            "calls answer 403 with code `token_scope` (docs/tokens.md).",
        }
