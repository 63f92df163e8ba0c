"""Writes for users, teams, memberships and namespaces.

Every function locks what its rule reads, then checks that `actor` may do it
(teams.permissions), so two writers can never both pass a check the other invalidates (two
owners demoting each other, say). Guardian object permissions are kept in step with the
memberships they derive from. Lock order: portal.transactions.
"""

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError

from portal.audit.permissions import AUDITORS_GROUP
from portal.audit.services import audit
from portal.errors import Conflict, ErrorCode, Invalid
from portal.transactions import atomic_write
from portal.validation import clean_or_invalid, conflict_on_integrity_error
from teams import hooks, permissions
from teams.models import Membership, Team
from teams.permissions import Principal, require
from teams.services.common import GROUP_PERMS, ROLE_GROUPS, lock_team

ROLE_RANK = {
    None: 0,
    Membership.Role.VIEWER: 1,
    Membership.Role.MAINTAINER: 2,
    Membership.Role.OWNER: 3,
}


# --- Users ------------------------------------------------------------------------------------


def _user_state(user: AbstractBaseUser) -> dict:
    return {
        "email": user.email,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_auditor": user.groups.filter(name=AUDITORS_GROUP).exists(),
    }


@atomic_write
def user_create(
    *, actor: Principal, username: str, email: str = "", password: str, is_staff: bool = False
) -> AbstractBaseUser:
    require(permissions.is_staff(actor), "Only staff provision users.")
    User = get_user_model()
    user = User(username=username, email=email, is_staff=is_staff)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise Invalid("The password is too weak.", errors={"password": exc.messages}) from exc
    user.set_password(password)
    clean_or_invalid(user)
    with conflict_on_integrity_error(f"A user named {username!r} already exists."):
        user.save()
    audit(
        actor=actor,
        action="user.created",
        object_type="user",
        object_id=username,
        after={"username": username, **_user_state(user)},
    )
    return user


def _lock_users(*users: AbstractBaseUser) -> dict[int, AbstractBaseUser]:
    ids = sorted({user.pk for user in users})
    User = get_user_model()
    # NO KEY: rows that merely point at these users (reviews, deployments) take key-share
    # locks on them, which must not wait for this.
    locked = User.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    return {user.pk: user for user in locked}


@atomic_write
def user_update(
    *,
    actor: Principal,
    user: AbstractBaseUser,
    is_active: bool | None = None,
    is_staff: bool | None = None,
    is_auditor: bool | None = None,
) -> AbstractBaseUser:
    """Deactivate or reactivate a person, make them staff or not, put them in the auditors
    group or take them out. Staff only, never on themselves (nobody locks out the last staff
    member by accident). A deactivated person cannot sign in, their tokens stop working at
    once and their approvals stop counting; their history stays."""
    require(permissions.is_user(actor), "Only staff change people's access.")
    locked = _lock_users(actor, user)
    require(
        actor.pk in locked and permissions.is_staff(locked[actor.pk]),
        "Only staff change people's access.",
    )
    target = locked[user.pk]
    if target.pk == actor.pk:
        raise Conflict(
            "You cannot change your own access; ask another staff member.",
            code=ErrorCode.SELF_DEACTIVATION,
        )
    before = _user_state(target)
    if is_active is not None:
        target.is_active = is_active
    if is_staff is not None:
        target.is_staff = is_staff
    target.save(update_fields=["is_active", "is_staff"])
    if is_auditor is not None:
        auditors, _ = Group.objects.get_or_create(name=AUDITORS_GROUP)
        (target.groups.add if is_auditor else target.groups.remove)(auditors)
    after = _user_state(target)
    if after == before:
        return target
    if after["is_active"] and not before["is_active"]:
        hooks.access_gained(user_ids=[target.pk])
    action = {
        (True, False): "user.deactivated",
        (False, True): "user.reactivated",
    }.get((before["is_active"], after["is_active"]), "user.changed")
    audit(
        actor=actor,
        action=action,
        object_type="user",
        object_id=target.get_username(),
        before=before,
        after=after,
    )
    return target


# --- Teams and memberships --------------------------------------------------------------------


@atomic_write
def team_create(*, actor: Principal, slug: str, name: str, description: str = "") -> Team:
    require(permissions.is_staff(actor), "Only staff create teams.")
    team = Team(slug=slug, name=name, description=description)
    clean_or_invalid(team)
    for attribute, suffix in (
        ("members_group", "members"),
        ("maintainers_group", "maintainers"),
        ("owners_group", "owners"),
    ):
        group, _ = Group.objects.get_or_create(name=f"team:{slug}:{suffix}")
        setattr(team, attribute, group)
    with conflict_on_integrity_error(f"A team with slug {slug!r} already exists."):
        team.save()
    audit(
        actor=actor,
        action="team.created",
        object_type="team",
        object_id=slug,
        after={"name": name, "description": description},
    )
    return team


def _require_team_owner(actor: Principal, team: Team) -> None:
    require(permissions.can_manage_team(actor, team), "Only the team's owners or staff do this.")


TEAM_FIELDS = ("name", "description", "contact_email", "contact_channel")


def _team_state(team: Team) -> dict:
    return {field: getattr(team, field) for field in TEAM_FIELDS}


@atomic_write
def team_update(
    *,
    actor: Principal,
    team: Team,
    name: str | None = None,
    description: str | None = None,
    contact_email: str | None = None,
    contact_channel: str | None = None,
) -> Team:
    """Change what the team says about itself: name, description and how to reach it (the
    prompt pages show the contact under "owned by"). None leaves a field as it is."""
    team = lock_team(team)
    _require_team_owner(actor, team)
    before = _team_state(team)
    changes = {
        "name": name,
        "description": description,
        "contact_email": contact_email,
        "contact_channel": contact_channel,
    }
    for field, value in changes.items():
        if value is not None:
            setattr(team, field, value.strip() if field.startswith("contact") else value)
    clean_or_invalid(team)
    team.save()
    audit(
        actor=actor,
        action="team.changed",
        object_type="team",
        object_id=team.slug,
        before=before,
        after=_team_state(team),
    )
    return team


def _sync_groups(team: Team, user: AbstractBaseUser, role: str | None) -> None:
    wanted = set(ROLE_GROUPS[role]) if role else set()
    for attribute in GROUP_PERMS:
        group = getattr(team, attribute)
        if attribute in wanted:
            user.groups.add(group)
        else:
            user.groups.remove(group)


@atomic_write
def membership_set(
    *, actor: Principal, team: Team, user: AbstractBaseUser, role: str
) -> Membership:
    """Add a member or change their role."""
    if role not in Membership.Role.values:
        raise Invalid.field("role", f"Role must be one of {', '.join(Membership.Role.values)}.")
    team = lock_team(team)
    _require_team_owner(actor, team)
    membership = Membership.objects.filter(team=team, user=user).first() or Membership(
        team=team, user=user
    )
    if membership.pk and membership.role == role:
        return membership
    if membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER:
        _refuse_losing_last_owner(team, user)
    before = {"role": membership.role} if membership.pk else None
    membership.role = role
    membership.save()
    _sync_groups(team, user, role)
    if ROLE_RANK[role] > ROLE_RANK[before and before["role"]]:
        hooks.access_gained(user_ids=[user.pk])
    audit(
        actor=actor,
        action="membership.changed" if before else "membership.added",
        object_type="membership",
        object_id=f"{team.slug}/{user.get_username()}",
        before=before,
        after={"role": role},
    )
    return membership


@atomic_write
def membership_remove(*, actor: Principal, team: Team, user: AbstractBaseUser) -> None:
    team = lock_team(team)
    _require_team_owner(actor, team)
    membership = Membership.objects.filter(team=team, user=user).first()
    if membership is None:
        return
    if membership.role == Membership.Role.OWNER:
        _refuse_losing_last_owner(team, user)
    membership.delete()
    _sync_groups(team, user, None)
    audit(
        actor=actor,
        action="membership.removed",
        object_type="membership",
        object_id=f"{team.slug}/{user.get_username()}",
        before={"role": membership.role},
    )


def _refuse_losing_last_owner(team: Team, user: AbstractBaseUser) -> None:
    others = team.memberships.filter(role=Membership.Role.OWNER).exclude(user=user)
    if not others.exists():
        raise Conflict(
            f"{user} is the last owner of {team.slug}; make someone else owner first.",
            code=ErrorCode.LAST_OWNER,
        )


# --- Namespaces (teams/services/namespaces.py) and sign-in lockouts, re-exported ------------

from teams.services.lockouts import lockout_lift as lockout_lift  # noqa: E402
from teams.services.namespaces import namespace_create as namespace_create  # noqa: E402
from teams.services.namespaces import namespace_lock as namespace_lock  # noqa: E402
from teams.services.namespaces import namespace_update as namespace_update  # noqa: E402
