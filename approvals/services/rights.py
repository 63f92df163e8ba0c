"""Promotion rights: grant and revoke (one code path), for users or whole teams."""

from django.contrib.auth.models import AbstractBaseUser
from guardian.shortcuts import assign_perm, remove_perm

from approvals import permissions as rights
from approvals.models import PromotionScope
from portal import outbox
from portal.audit.services import audit
from portal.errors import Invalid
from portal.transactions import atomic_write
from prompts.models import Environment
from teams import services as team_services
from teams.models import Namespace, Team
from teams.permissions import Principal, require


def _holder(user: AbstractBaseUser | None, team: Team | None):
    if (user is None) == (team is None):
        raise Invalid(
            "Name exactly one of 'username' or 'team'.",
            errors={"non_field_errors": ["Name exactly one of 'username' or 'team'."]},
        )
    return user if user is not None else team.members_group


def _locked_scope(namespace: Namespace, environment: Environment, *, create: bool):
    if create:
        PromotionScope.objects.get_or_create(namespace=namespace, environment=environment)
    return (
        PromotionScope.objects.select_for_update()
        .filter(namespace=namespace, environment=environment)
        .first()
    )


def _held(holder, scope: PromotionScope) -> bool:
    if isinstance(holder, AbstractBaseUser):
        grants = holder.userobjectpermission_set
    else:
        grants = holder.groupobjectpermission_set
    return grants.filter(**rights.grant_lookup([scope.pk])).exists()


@atomic_write
def _change_right(
    *,
    actor: Principal,
    namespace: Namespace,
    environment: Environment,
    user: AbstractBaseUser | None,
    team: Team | None,
    granted: bool,
) -> bool:
    """Grant (or revoke) the right; True when that changed something. Locks the namespace
    (and its team), then the scope, then checks the actor may do it."""
    holder = _holder(user, team)
    namespace = team_services.namespace_lock(namespace)
    verb = "grant" if granted else "revoke"
    require(
        rights.can_grant_promotion_right(actor, namespace, environment),
        f"Only staff {verb} rights on the protected environment {environment.slug}."
        if environment.protected
        else f"Only owners of {namespace.slug} or staff {verb} promotion rights.",
    )
    if granted and user is not None and not user.is_active:
        raise Invalid.field("username", f"{user} is deactivated.")
    scope = _locked_scope(namespace, environment, create=granted)
    if scope is None or _held(holder, scope) == granted:
        return False
    if granted:
        assign_perm(rights.PROMOTE, holder, scope)
        # Approvals given by these holders count again: a request may now be complete.
        outbox.enqueue("approvals.tasks.reevaluate_pending", namespace.pk, environment.pk)
    else:
        remove_perm(rights.PROMOTE, holder, scope)
    description = {
        "environment": environment.slug,
        "username": user.get_username() if user else None,
        "team": team.slug if team else None,
    }
    audit(
        actor=actor,
        action="promotion_right.granted" if granted else "promotion_right.revoked",
        object_type="promotion_right",
        object_id=f"{namespace.slug}@{environment.slug}",
        namespace=namespace.slug,
        before=None if granted else description,
        after=description if granted else None,
    )
    return True


def promotion_right_grant(
    *,
    actor: Principal,
    namespace: Namespace,
    environment: Environment,
    user: AbstractBaseUser | None = None,
    team: Team | None = None,
) -> bool:
    """Let a user (or every member of a team) approve promotions into `environment` of
    `namespace` and roll it back. Returns whether they did not hold it already."""
    return _change_right(
        actor=actor,
        namespace=namespace,
        environment=environment,
        user=user,
        team=team,
        granted=True,
    )


def promotion_right_revoke(
    *,
    actor: Principal,
    namespace: Namespace,
    environment: Environment,
    user: AbstractBaseUser | None = None,
    team: Team | None = None,
) -> bool:
    """Take the right away; approvals the holder gave stop counting. Returns whether there
    was such a grant."""
    return _change_right(
        actor=actor,
        namespace=namespace,
        environment=environment,
        user=user,
        team=team,
        granted=False,
    )
