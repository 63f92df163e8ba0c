"""API tokens: issue, revoke, and authenticate a presented secret.

Secrets are `prefix.secret`; only a sha512 hash is stored (djangorestframework-api-key).
A lookup is cached by prefix (the hash, the kind, the owner, namespaces, limit and scopes) for
at most `RESOLVE_CACHE_MAX_AGE`, so a warm request touches no database. Revoking a token
replaces its cache entry with a tombstone through the outbox: the next request on any process
is refused, and a lost invalidation heals within the max age.
"""

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone
from rest_framework_api_key.crypto import KeyGenerator

from portal import outbox
from portal.audit.services import audit
from portal.cache import breaker
from portal.errors import Invalid
from portal.transactions import atomic_write
from teams import permissions, scopes
from teams.models import ApiToken, Namespace
from teams.permissions import Principal, require
from teams.tasks import token_mark_used

REVOKED = "revoked"
TOUCH_INTERVAL_SECONDS = 60
NAME_MAX_LENGTH = 50
_key_generator = KeyGenerator()
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenRecord:
    """What authentication needs to know about a token, cacheable as is."""

    id: str
    prefix: str
    name: str
    hashed_key: str
    kind: str
    user_id: int | None
    namespace_ids: frozenset[int]
    expires_at: dt.datetime | None
    scopes: frozenset[str] | None = None  # None: a token without scopes (teams.scopes)
    namespace_limited: bool = False

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def granted(self) -> frozenset[str] | None:
        """The scopes it may use; None: any (a personal token without scopes)."""
        return scopes.granted(self.kind, self.scopes)

    @property
    def namespace_limit(self) -> frozenset[int] | None:
        """The namespaces a personal token is limited to (empty once they are all gone: then it
        reaches none); None: its user's."""
        if self.kind == ApiToken.Kind.PERSONAL and self.namespace_limited:
            return self.namespace_ids
        return None


def expiry_zone_name() -> str:
    """The zone an expiry date is read in: the portal's current time zone (TIME_ZONE)."""
    return timezone.get_current_timezone_name()


def end_of_day(day: dt.date) -> dt.datetime:
    """When a token chosen to be valid until `day` stops: the next midnight in the portal's zone.

    The portal form and the API read a bare date the same way, so `2026-12-31` works through
    23:59:59 on that day in TIME_ZONE (UTC unless configured).
    """
    if day >= dt.date.max:
        raise ValueError("The last day of the calendar has no end of day to expire at.")
    zone = timezone.get_current_timezone()
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min).replace(tzinfo=zone)


def _cache_key(prefix: str) -> str:
    return f"auth-token:v3:{prefix}"


def _validate(name: str, expires_at: dt.datetime | None) -> str:
    name = (name or "").strip()
    if not name:
        raise Invalid.field("name", "Give the token a name, so you recognise it later.")
    if len(name) > NAME_MAX_LENGTH:
        raise Invalid.field("name", f"At most {NAME_MAX_LENGTH} characters.")
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid.field("expires_at", "The expiry must be in the future.")
    return name


def _scopes_valid(kind: str, given: list[str] | None) -> list[str] | None:
    """The scopes to store, in the table's order; None for none at all (no limit)."""
    given = list(given or [])
    unknown = sorted(set(given) - set(scopes.SCOPES))
    if unknown:
        raise Invalid.field(
            "scopes", f"Unknown scope {unknown[0]!r}; choose from {', '.join(scopes.SCOPES)}."
        )
    if kind == ApiToken.Kind.SERVICE and not set(given) <= scopes.SERVICE_SCOPES:
        refused = sorted(set(given) - scopes.SERVICE_SCOPES)
        raise Invalid.field(
            "scopes",
            f"A service token may only carry {scopes.READ!r} and {scopes.EVENTS_WRITE!r}, "
            f"not {', '.join(repr(scope) for scope in refused)}.",
        )
    return [scope for scope in scopes.SCOPES if scope in given] or None


def _overlapping_grant(actor, chosen: set[str], namespaces: list[Namespace]) -> str | None:
    """The scope that may not join `chosen` for `namespaces` (this token, or one of the
    actor's usable scoped tokens whose namespaces overlap); None when the grant is clean.
    Tokens without scopes are not weighed: they are limited by their user's rights alone,
    and the four-eyes rule holds for those. The caller holds the actor's row locked."""
    if scopes.VERSIONS_WRITE in chosen and chosen & scopes.DECIDING_SCOPES:
        return sorted(chosen & scopes.DECIDING_SCOPES)[0]
    ids = {ns.pk for ns in namespaces} or None
    for other in (
        ApiToken.objects.filter(kind=ApiToken.Kind.PERSONAL, user=actor, revoked=False)
        .exclude(scopes=None)
        .prefetch_related("namespaces")
    ):
        if not other.is_usable:
            continue
        theirs = {ns.pk for ns in other.namespaces.all()} if other.namespace_limited else None
        if not _reaches_overlap(ids, theirs):
            continue
        held = set(other.scopes or ())
        if scopes.VERSIONS_WRITE in chosen and held & scopes.DECIDING_SCOPES:
            return f"{sorted(held & scopes.DECIDING_SCOPES)[0]} (held by {other.prefix})"
        if chosen & scopes.DECIDING_SCOPES and scopes.VERSIONS_WRITE in held:
            return f"{scopes.VERSIONS_WRITE} (held by {other.prefix})"
    return None


def _reaches_overlap(ours: set[int] | None, theirs: set[int] | None) -> bool:
    """Whether two tokens' namespace limits share a namespace (None: not limited, every
    namespace; an empty limit reaches none)."""
    if ours is None and theirs is None:
        return True
    if ours is None or theirs is None:
        return bool(ours or theirs)
    return bool(ours & theirs)


def _personal_limits(actor, given: list[str] | None, namespaces: list[Namespace]) -> list | None:
    chosen = _scopes_valid(ApiToken.Kind.PERSONAL, given)
    if namespaces and chosen is None:
        raise Invalid.field(
            "namespaces", "Choose scopes too: a token without scopes is not limited at all."
        )
    for namespace in namespaces:
        if not permissions.can_view_namespace(actor, namespace):
            raise Invalid.field("namespaces", f"No namespace {namespace.slug}.")
    clash = _overlapping_grant(actor, set(chosen or ()), namespaces)
    if clash:
        raise Invalid.field(
            "scopes",
            "Writing versions (versions:write) never goes with approving or rolling back "
            f"in overlapping namespaces (here: {clash}): a job that writes versions must not "
            "decide what runs. Use another person's token, or namespaces that do not overlap.",
        )
    return chosen


def namespaces_named(*, actor: Principal, slugs: list[str]) -> list[Namespace]:
    """The namespaces a token is to be limited to, by slug; one `actor` cannot see is a field
    error, as a missing one is."""
    found = {
        ns.slug: ns for ns in permissions.namespaces_visible_to(user=actor).filter(slug__in=slugs)
    }
    for slug in slugs:
        if slug not in found:
            raise Invalid.field("namespaces", f"No namespace {slug}.")
    return [found[slug] for slug in dict.fromkeys(slugs)]


@atomic_write
def personal_token_create(
    *,
    actor: Principal,
    name: str,
    expires_at: dt.datetime | None = None,
    scopes: list[str] | None = None,
    namespaces: list[Namespace] | None = None,
) -> tuple[ApiToken, str]:
    """A token that acts as `actor`, limited to `scopes` and (with scopes) to `namespaces`
    when given. Returns the row and the secret, which is never stored."""
    require(permissions.is_user(actor), "Only a signed-in person creates personal tokens.")
    _lock_owner(actor)
    name = _validate(name, expires_at)
    namespaces = list(namespaces or [])
    chosen = _personal_limits(actor, scopes, namespaces)
    token, secret = ApiToken.objects.create_key(
        kind=ApiToken.Kind.PERSONAL,
        user=actor,
        name=name,
        expiry_date=expires_at,
        created_by=actor,
        scopes=chosen,
        namespace_limited=bool(namespaces),
    )
    token.namespaces.set(namespaces)
    outbox.invalidate(_cache_key(token.prefix))
    _audit_token(actor, "token.created", token, expires_at)
    return token, secret


def _lock_owner(actor) -> None:
    """Serialize the creation of one person's tokens, so two at once cannot each pass the
    never-together check without seeing the other. The user row is first in the lock order
    (docs/locking.md); `FOR NO KEY UPDATE` as `user_update` takes it, so rows that merely
    reference the user never wait."""
    get_user_model().objects.select_for_update(no_key=True).get(pk=actor.pk)


def _audit_token(actor: Principal, action: str, token: ApiToken, expires_at=None) -> None:
    namespaces = sorted(ns.slug for ns in token.namespaces.all()) if token.pk else []
    audit(
        actor=actor,
        action=action,
        object_type=f"{token.kind}_token",
        object_id=token.prefix,
        namespace=namespaces[0] if len(namespaces) == 1 else "",
        after={
            "name": token.name,
            "owner": token.user.get_username() if token.user_id else None,
            "namespaces": namespaces,
            "namespace_limited": token.namespace_limited,
            "scopes": token.scopes,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "revoked": token.revoked,
        },
    )


@atomic_write
def service_token_create(
    *,
    actor: Principal,
    namespaces: list[Namespace],
    name: str,
    expires_at: dt.datetime | None = None,
    scopes: list[str] | None = None,
) -> tuple[ApiToken, str]:
    """A token for services: reads, resolves and reports events in `namespaces`, or only
    what `scopes` (of `read`, `events:write`) say."""
    chosen = _scopes_valid(ApiToken.Kind.SERVICE, scopes)
    if not namespaces:
        raise Invalid.field("namespaces", "A service token needs at least one namespace.")
    for namespace in namespaces:
        require(
            permissions.can_manage_namespace(actor, namespace),
            f"Only owners of {namespace.slug} or staff issue its service tokens.",
        )
    name = _validate(name, expires_at)
    token, secret = ApiToken.objects.create_key(
        kind=ApiToken.Kind.SERVICE,
        name=name,
        expiry_date=expires_at,
        created_by=actor,
        scopes=chosen,
    )
    token.namespaces.set(namespaces)
    outbox.invalidate(_cache_key(token.prefix))
    _audit_token(actor, "token.created", token, expires_at)
    return token, secret


def can_revoke(actor: Principal, token: ApiToken) -> bool:
    if permissions.is_staff(actor):
        return True
    if token.kind == ApiToken.Kind.PERSONAL:
        return permissions.is_user(actor) and token.user_id == actor.pk
    return any(permissions.can_manage_namespace(actor, ns) for ns in token.namespaces.all())


@atomic_write
def token_revoke(*, actor: Principal, token: ApiToken) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    require(can_revoke(actor, token), "You may not revoke this token.")
    if not token.revoked:
        token.revoked = True
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked", "revoked_at"])
        _audit_token(actor, "token.revoked", token, token.expiry_date)
    # A tombstone, not a delete: a lookup that read the row before this commit cannot put the
    # token back into the cache (lookups only `add`).
    outbox.put({_cache_key(token.prefix): REVOKED})
    return token


def _load(prefix: str) -> TokenRecord | None:
    """One query for a service token (its namespaces joined in), two for a personal one."""
    grants = list(
        ApiToken.namespaces.through.objects.filter(
            apitoken__prefix=prefix, apitoken__revoked=False
        ).select_related("apitoken")
    )
    token = grants[0].apitoken if grants else None
    if token is None:
        token = ApiToken.objects.filter(prefix=prefix, revoked=False).first()
    if token is None:
        return None
    return TokenRecord(
        id=token.pk,
        prefix=token.prefix,
        name=token.name,
        hashed_key=token.hashed_key,
        kind=token.kind,
        user_id=token.user_id,
        namespace_ids=frozenset(grant.namespace_id for grant in grants),
        expires_at=token.expiry_date,
        scopes=frozenset(token.scopes) if token.scopes else None,
        namespace_limited=token.namespace_limited,
    )


_UNKNOWN = object()


def token_cache_key(secret: str) -> str | None:
    """Where the record of the token behind `secret` is cached (None: not a token's shape)."""
    prefix, dot, rest = secret.partition(".")
    if not dot or not prefix or not rest or len(secret) > 200:
        return None
    return _cache_key(prefix)


def token_authenticate(secret: str, cached: object = _UNKNOWN) -> TokenRecord | None:
    """The usable token behind a presented secret, or None (unknown, wrong, revoked, expired).
    `cached` is what the caller already read at `token_cache_key(secret)`, if it did."""
    key = token_cache_key(secret)
    if key is None:
        return None
    record = cache.get(key) if cached is _UNKNOWN else cached
    if record == REVOKED:
        return None
    if record is None:
        record = _load(secret.partition(".")[0])
        if record is None:
            return None
        cache.add(key, record, settings.RESOLVE_CACHE_MAX_AGE)
    if not _key_generator.verify(secret, record.hashed_key) or record.expired:
        return None
    return record


_touched_here: dict[str, float] = {}


def token_touch(record: TokenRecord) -> None:
    """Note that the token was used, at most once a minute per token, in a Celery task.
    Each process remembers its own notes, so most requests do not even ask the cache. The
    note is best effort: never queued while Redis is failing, and its publish is bounded."""
    now = time.monotonic()
    if now - _touched_here.get(record.prefix, -TOUCH_INTERVAL_SECONDS) < TOUCH_INTERVAL_SECONDS:
        return
    if len(_touched_here) > 10_000:
        _touched_here.clear()
    _touched_here[record.prefix] = now
    if breaker.is_open() or not cache.add(
        f"auth-token-touched:{record.prefix}", 1, TOUCH_INTERVAL_SECONDS
    ):
        return
    if not outbox.publish(token_mark_used, record.id, timezone.now().isoformat()):
        logger.warning("could not queue the last-use note of token %s", record.prefix)
