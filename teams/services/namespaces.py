"""Namespaces: create, change (description, visibility, owning team, stale-prompt settings),
and the lock that serializes changes of one namespace with its team."""

from guardian.shortcuts import assign_perm, remove_perm

from portal.audit.services import audit
from portal.errors import Conflict, ErrorCode
from portal.transactions import atomic_write
from portal.validation import clean_or_invalid, conflict_on_integrity_error
from teams import hooks, permissions
from teams.models import Namespace, Team
from teams.permissions import Principal, require
from teams.services.common import GROUP_PERMS, lock_team


def _set_team_access(namespace: Namespace, team: Team, *, granted: bool) -> None:
    change = assign_perm if granted else remove_perm
    for attribute, perms in GROUP_PERMS.items():
        for perm in perms:
            change(perm, getattr(team, attribute), namespace)


@atomic_write
def namespace_create(
    *,
    actor: Principal,
    slug: str,
    team: Team,
    description: str = "",
    visibility: str = Namespace.Visibility.INTERNAL,
) -> Namespace:
    team = lock_team(team)
    require(
        permissions.can_create_namespace(actor, team),
        f"Only owners of {team.slug} or staff create its namespaces.",
    )
    namespace = Namespace(slug=slug, team=team, description=description, visibility=visibility)
    clean_or_invalid(namespace)
    with conflict_on_integrity_error(f"A namespace with slug {slug!r} already exists."):
        namespace.save()
    _set_team_access(namespace, team, granted=True)
    audit(
        actor=actor,
        action="namespace.created",
        object_type="namespace",
        object_id=slug,
        namespace=slug,
        after=_namespace_state(namespace),
    )
    return namespace


def _namespace_state(namespace: Namespace) -> dict:
    return {
        "team": namespace.team.slug,
        "description": namespace.description,
        "visibility": namespace.visibility,
        "stale_after_days": namespace.stale_after_days,
        "auto_retire": namespace.auto_retire,
    }


def namespace_lock(namespace: Namespace, *teams: Team) -> Namespace:
    """The namespace's owning team (and any other named), by id, then the namespace. A
    namespace moved in between is refused: the caller's view of it is stale."""
    team_ids = sorted({namespace.team_id, *(team.pk for team in teams)})
    list(Team.objects.select_for_update().filter(pk__in=team_ids).order_by("pk"))
    locked = (
        Namespace.objects.select_for_update(of=("self",))
        .select_related("team")
        .get(pk=namespace.pk)
    )
    if locked.team_id != namespace.team_id:
        raise Conflict(
            f"{namespace.slug} moved to another team meanwhile; reload and try again.",
            code=ErrorCode.CONCURRENT_WRITE,
        )
    return locked


@atomic_write
def namespace_update(
    *,
    actor: Principal,
    namespace: Namespace,
    description: str | None = None,
    visibility: str | None = None,
    team: Team | None = None,
    stale_after_days: int | None = None,
    auto_retire: bool | None = None,
) -> Namespace:
    """Change a namespace: its description and visibility, the stale-prompt settings (after
    how many quiet days a prompt is reported, whether deprecated prompts retire at their
    sunset) — owners and staff — and, staff only, the owning team. None leaves a field."""
    namespace = namespace_lock(namespace, *([team] if team else []))
    require(
        permissions.can_manage_namespace(actor, namespace),
        "Only the owning team's owners or staff change a namespace.",
    )
    before = _namespace_state(namespace)
    if description is not None:
        namespace.description = description
    if visibility is not None:
        namespace.visibility = visibility
    if stale_after_days is not None:
        namespace.stale_after_days = stale_after_days
    if auto_retire is not None:
        namespace.auto_retire = auto_retire
    previous_team = namespace.team
    if team is not None and team.pk != previous_team.pk:
        require(permissions.is_staff(actor), "Only staff move a namespace to another team.")
        namespace.team = team
    clean_or_invalid(namespace)
    namespace.save()
    if namespace.team_id != previous_team.pk:
        _set_team_access(namespace, previous_team, granted=False)
        _set_team_access(namespace, namespace.team, granted=True)
    after = _namespace_state(namespace)
    if before != after:
        hooks.namespace_changed(namespace=namespace, before=before, after=after)
    audit(
        actor=actor,
        action="namespace.changed",
        object_type="namespace",
        object_id=namespace.slug,
        namespace=namespace.slug,
        before=before,
        after=after,
    )
    return namespace


# Sign-in lockouts live in their own module; callers keep using teams.services.
