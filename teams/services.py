"""Writes for teams, memberships, namespaces, promotion rights and users.

Every function checks that `actor` may do it (teams.permissions) and keeps the guardian
object permissions in step with the memberships they derive from.
"""

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError
from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from approvals.audit import audit
from portal.errors import Conflict, Invalid
from portal.validation import clean_or_invalid, conflict_on_integrity_error
from teams import permissions
from teams.models import Membership, Namespace, PromotionScope, Team
from teams.permissions import (
    NAMESPACE_EDIT_PROMPTS,
    NAMESPACE_MANAGE,
    NAMESPACE_REQUEST_PROMOTION,
    NAMESPACE_VIEW,
    Principal,
    require,
)

ROLE_GROUPS = {
    Membership.Role.VIEWER: ("members_group",),
    Membership.Role.MAINTAINER: ("members_group", "maintainers_group"),
    Membership.Role.OWNER: ("members_group", "maintainers_group", "owners_group"),
}
GROUP_PERMS = {
    "members_group": (NAMESPACE_VIEW,),
    "maintainers_group": (NAMESPACE_EDIT_PROMPTS, NAMESPACE_REQUEST_PROMOTION),
    "owners_group": (NAMESPACE_MANAGE,),
}


# --- Users ------------------------------------------------------------------------------------


@transaction.atomic
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
        after={"username": username, "email": email, "is_staff": is_staff},
    )
    return user


# --- Teams and memberships --------------------------------------------------------------------


@transaction.atomic
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


@transaction.atomic
def team_update(
    *, actor: Principal, team: Team, name: str | None = None, description: str | None = None
) -> Team:
    require(permissions.can_manage_team(actor, team), "Only the team's owners or staff edit it.")
    before = {"name": team.name, "description": team.description}
    if name is not None:
        team.name = name
    if description is not None:
        team.description = description
    clean_or_invalid(team)
    team.save()
    audit(
        actor=actor,
        action="team.changed",
        object_type="team",
        object_id=team.slug,
        before=before,
        after={"name": team.name, "description": team.description},
    )
    return team


def _sync_groups(membership_team: Team, user: AbstractBaseUser, role: str | None) -> None:
    wanted = set(ROLE_GROUPS[role]) if role else set()
    for attribute in GROUP_PERMS:
        group = getattr(membership_team, attribute)
        if attribute in wanted:
            user.groups.add(group)
        else:
            user.groups.remove(group)


def _lock_team(team: Team) -> Team:
    """Serialize membership changes of one team (the last-owner rule reads, then writes)."""
    return Team.objects.select_for_update().get(pk=team.pk)


@transaction.atomic
def membership_set(
    *, actor: Principal, team: Team, user: AbstractBaseUser, role: str
) -> Membership:
    """Add a member or change their role."""
    require(permissions.can_manage_team(actor, team), "Only the team's owners or staff do this.")
    if role not in Membership.Role.values:
        raise Invalid.field("role", f"Role must be one of {', '.join(Membership.Role.values)}.")
    team = _lock_team(team)
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
    audit(
        actor=actor,
        action="membership.changed" if before else "membership.added",
        object_type="membership",
        object_id=f"{team.slug}/{user.get_username()}",
        before=before,
        after={"role": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, actor: Principal, team: Team, user: AbstractBaseUser) -> None:
    require(permissions.can_manage_team(actor, team), "Only the team's owners or staff do this.")
    team = _lock_team(team)
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
            code="last_owner",
        )


# --- Namespaces -------------------------------------------------------------------------------


def _grant_team_access(namespace: Namespace, team: Team) -> None:
    for attribute, perms in GROUP_PERMS.items():
        for perm in perms:
            assign_perm(perm, getattr(team, attribute), namespace)


def _revoke_team_access(namespace: Namespace, team: Team) -> None:
    for attribute, perms in GROUP_PERMS.items():
        for perm in perms:
            remove_perm(perm, getattr(team, attribute), namespace)


@transaction.atomic
def namespace_create(
    *,
    actor: Principal,
    slug: str,
    team: Team,
    description: str = "",
    visibility: str = Namespace.Visibility.INTERNAL,
) -> Namespace:
    require(
        permissions.can_create_namespace(actor, team),
        f"Only owners of {team.slug} or staff create its namespaces.",
    )
    namespace = Namespace(slug=slug, team=team, description=description, visibility=visibility)
    clean_or_invalid(namespace)
    with conflict_on_integrity_error(f"A namespace with slug {slug!r} already exists."):
        namespace.save()
    _grant_team_access(namespace, team)
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
    }


@transaction.atomic
def namespace_update(
    *,
    actor: Principal,
    namespace: Namespace,
    description: str | None = None,
    visibility: str | None = None,
    team: Team | None = None,
) -> Namespace:
    require(
        permissions.can_manage_namespace(actor, namespace),
        "Only the owning team's owners or staff change a namespace.",
    )
    namespace = Namespace.objects.select_for_update().select_related("team").get(pk=namespace.pk)
    before = _namespace_state(namespace)
    if description is not None:
        namespace.description = description
    if visibility is not None:
        namespace.visibility = visibility
    previous_team = namespace.team
    if team is not None and team.pk != previous_team.pk:
        require(permissions.is_staff(actor), "Only staff move a namespace to another team.")
        namespace.team = team
    clean_or_invalid(namespace)
    namespace.save()
    if namespace.team_id != previous_team.pk:
        _revoke_team_access(namespace, previous_team)
        _grant_team_access(namespace, namespace.team)
    if before != _namespace_state(namespace):
        # Cached resolve answers carry the namespace's visibility.
        from prompts import resolve

        resolve.invalidate()
    audit(
        actor=actor,
        action="namespace.changed",
        object_type="namespace",
        object_id=namespace.slug,
        namespace=namespace.slug,
        before=before,
        after=_namespace_state(namespace),
    )
    return namespace


# --- Promotion rights -------------------------------------------------------------------------


def _right_holder(user: AbstractBaseUser | None, team: Team | None):
    if (user is None) == (team is None):
        raise Invalid(
            "Name exactly one of 'username' or 'team'.",
            errors={"non_field_errors": ["Name exactly one of 'username' or 'team'."]},
        )
    return user if user is not None else team.members_group


@transaction.atomic
def promotion_right_grant(
    *,
    actor: Principal,
    namespace: Namespace,
    environment,
    user: AbstractBaseUser | None = None,
    team: Team | None = None,
) -> PromotionScope:
    holder = _right_holder(user, team)
    require(
        permissions.can_grant_promotion_right(actor, namespace, environment),
        f"Only staff grant rights on the protected environment {environment.slug}."
        if environment.protected
        else f"Only owners of {namespace.slug} or staff grant promotion rights.",
    )
    if user is not None and not user.is_active:
        raise Invalid.field("username", f"{user} is deactivated.")
    scope, _ = PromotionScope.objects.get_or_create(namespace=namespace, environment=environment)
    assign_perm("teams.promote", holder, scope)
    audit(
        actor=actor,
        action="promotion_right.granted",
        object_type="promotion_right",
        object_id=f"{namespace.slug}@{environment.slug}",
        namespace=namespace.slug,
        after=_holder_description(user, team, environment),
    )
    return scope


def _holder_description(user, team, environment) -> dict:
    return {
        "environment": environment.slug,
        "username": user.get_username() if user else None,
        "team": team.slug if team else None,
    }


@transaction.atomic
def promotion_right_revoke(
    *,
    actor: Principal,
    namespace: Namespace,
    environment,
    user: AbstractBaseUser | None = None,
    team: Team | None = None,
) -> bool:
    """Remove a grant. Returns whether there was one."""
    holder = _right_holder(user, team)
    require(
        permissions.can_grant_promotion_right(actor, namespace, environment),
        f"Only staff revoke rights on the protected environment {environment.slug}."
        if environment.protected
        else f"Only owners of {namespace.slug} or staff revoke promotion rights.",
    )
    scope = PromotionScope.objects.filter(namespace=namespace, environment=environment).first()
    if scope is None:
        return False
    deleted = remove_perm("teams.promote", holder, scope)
    if not (deleted and deleted[0]):
        return False
    audit(
        actor=actor,
        action="promotion_right.revoked",
        object_type="promotion_right",
        object_id=f"{namespace.slug}@{environment.slug}",
        namespace=namespace.slug,
        before=_holder_description(user, team, environment),
    )
    return True
