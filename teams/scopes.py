"""What a scoped API token may do (docs/tokens.md has the table and the reasons).

A token with scopes may call an endpoint only when one of them covers it: every safe method
(GET, HEAD, OPTIONS) is `read`, and `WRITES` names the writes each scope covers by URL name
and method. An endpoint missing from the table is refused to every scoped token (deny by
default). A token without scopes (`scopes` null: made before scopes existed, or made without)
keeps what it could always do: a personal one everything its user may, a service one read and
report events in its namespaces.

A few endpoints need more than their entry here for some input; the view asks
`teams.authentication.require_scope` for it. `POST /sync/` is `read` (a dry run of prompts as
code only reads) and also open to `versions:write` (`ALSO_COVERED_BY`: a writer may plan, and
its tokens kept syncing when the dry run became `read`); the view asks `versions:write` unless
it is a dry run, and `promotions:request` to promote.

`promotions:approve` and `rollback` decide what runs; `versions:write` writes what would run.
No token carries both for namespaces that overlap, so a CI job never approves its own change.
"""

from collections.abc import Iterable

from portal.errors import ErrorCode, PermissionDenied

READ = "read"
VERSIONS_WRITE = "versions:write"
PROMOTIONS_REQUEST = "promotions:request"
PROMOTIONS_APPROVE = "promotions:approve"
ROLLBACK = "rollback"
EVENTS_WRITE = "events:write"

SCOPES: dict[str, str] = {
    READ: "Every GET, resolve, render and dry-run sync",
    VERSIONS_WRITE: "Write prompts and versions (and sync)",
    PROMOTIONS_REQUEST: "Request promotions and cancel them",
    PROMOTIONS_APPROVE: "Approve and reject promotions",
    ROLLBACK: "Roll back deployments",
    EVENTS_WRITE: "Report call events",
}
SERVICE_SCOPES = frozenset({READ, EVENTS_WRITE})
# What a service token without scopes has always been allowed (its views' permission classes
# enforce it; `require_scope` answers the same).
LEGACY_SERVICE_SCOPES = SERVICE_SCOPES
DECIDING_SCOPES = frozenset({PROMOTIONS_APPROVE, ROLLBACK})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

WRITES: dict[tuple[str, str], str] = {
    ("api-render", "POST"): READ,
    ("api-resolve-batch", "POST"): READ,
    ("api-prompts", "POST"): VERSIONS_WRITE,
    ("api-prompt", "PATCH"): VERSIONS_WRITE,
    ("api-versions", "POST"): VERSIONS_WRITE,
    ("api-sync", "POST"): READ,
    ("api-promotions", "POST"): PROMOTIONS_REQUEST,
    ("api-promotion-cancel", "POST"): PROMOTIONS_REQUEST,
    ("api-promotion-approve", "POST"): PROMOTIONS_APPROVE,
    ("api-promotion-reject", "POST"): PROMOTIONS_APPROVE,
    ("api-rollback", "POST"): ROLLBACK,
    ("api-events", "POST"): EVENTS_WRITE,
    # The Langfuse-compatible API (integrations): a create with labels also needs
    # promotions:request, which the view asks.
    ("langfuse-prompts", "POST"): VERSIONS_WRITE,
    ("langfuse-prompt-version", "PATCH"): PROMOTIONS_REQUEST,
    ("langfuse-otel-traces", "POST"): EVENTS_WRITE,
}
# Endpoints a second scope opens too; the view decides what the second one may do there.
ALSO_COVERED_BY: dict[tuple[str, str], str] = {
    ("api-sync", "POST"): VERSIONS_WRITE,
}


def scope_of(url_name: str | None, method: str) -> str | None:
    """The scope an endpoint needs from a scoped token; None: no scoped token may call it."""
    if method in SAFE_METHODS:
        return READ
    return WRITES.get((url_name or "", method))


def covers(held: frozenset[str], url_name: str | None, method: str) -> bool:
    """Whether a token with scopes `held` may call the endpoint at all."""
    needed = scope_of(url_name, method)
    if needed is None:
        return False
    return needed in held or ALSO_COVERED_BY.get((url_name or "", method)) in held


def granted(kind: str, scopes: Iterable[str] | None) -> frozenset[str] | None:
    """What a token may do, by scope: None means every scope (a personal token without
    scopes, limited only by its user's rights)."""
    if scopes:
        return frozenset(scopes)
    return LEGACY_SERVICE_SCOPES if kind == "service" else None


class ScopeRefused(PermissionDenied):
    code = ErrorCode.TOKEN_SCOPE


def refusal(scope: str | None) -> str:
    if scope is None:
        return (
            "Scoped tokens may not call this endpoint; use a token without scopes, or the portal."
        )
    return f"The token lacks the {scope!r} scope this needs."


def require(scopes: frozenset[str] | None, scope: str) -> None:
    """Raise `ScopeRefused` unless `scopes` (as `granted` answers) include `scope`."""
    if scopes is not None and scope not in scopes:
        raise ScopeRefused(refusal(scope))
