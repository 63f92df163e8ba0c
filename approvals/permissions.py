"""Promotion rights: who may approve promotions into an environment of a namespace and roll it
back. A right is a guardian `promote` permission on a `PromotionScope` (namespace ×
environment), held by a user or by a team's members group; never implied by superuser."""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_objects_for_user

from approvals.models import PromotionScope
from prompts.models import Environment
from teams import permissions
from teams.models import Namespace
from teams.permissions import Principal

PROMOTE = "approvals.promote"


def promotion_scopes_of(user: AbstractBaseUser) -> QuerySet[PromotionScope]:
    """Scopes the user may approve in (directly or through a team), within the namespaces
    their token is limited to."""
    scopes = get_objects_for_user(
        user, PROMOTE, klass=PromotionScope, accept_global_perms=False, with_superuser=False
    )
    limit = permissions.namespace_limit(user)
    return scopes if limit is None else scopes.filter(namespace_id__in=limit)


def reviewed_namespaces(*, user: AbstractBaseUser) -> QuerySet:
    """Registered as a `teams.hooks.namespace_readers`: reviewers see what they review, even
    in private namespaces of other teams."""
    return promotion_scopes_of(user).values("namespace_id")


def grant_lookup(scope_ids: Iterable[int]) -> dict:
    return {
        "content_type": ContentType.objects.get_for_model(PromotionScope),
        "object_pk__in": [str(pk) for pk in scope_ids],
        "permission__codename": "promote",
    }


def holders_of(scope_ids: Iterable[int]) -> dict[int, set[int]]:
    """Scope id -> ids of the active users holding its right, directly or through a team's
    members group (two queries for any number of scopes)."""
    scope_ids = list(scope_ids)
    holders: dict[int, set[int]] = {pk: set() for pk in scope_ids}
    if not scope_ids:
        return holders
    lookup = grant_lookup(scope_ids)
    for object_pk, user_id in UserObjectPermission.objects.filter(
        **lookup, user__is_active=True
    ).values_list("object_pk", "user_id"):
        holders[int(object_pk)].add(user_id)
    for object_pk, user_id in (
        GroupObjectPermission.objects.filter(**lookup, group__user__is_active=True)
        .values_list("object_pk", "group__user")
        .distinct()
    ):
        holders[int(object_pk)].add(user_id)
    return holders


def holds_promotion_right(user: Principal, namespace: Namespace, environment: Environment) -> bool:
    """An explicit grant to the user or to a group they are in; never implied by superuser."""
    if not permissions.is_user(user) or not permissions.within_limit(user, namespace.pk):
        return False
    scope = PromotionScope.objects.filter(namespace=namespace, environment=environment).first()
    if scope is None:
        return False
    lookup = grant_lookup([scope.pk])
    return (
        UserObjectPermission.objects.filter(user=user, **lookup).exists()
        or GroupObjectPermission.objects.filter(group__user=user, **lookup).exists()
    )


def can_grant_promotion_right(
    user: Principal, namespace: Namespace, environment: Environment
) -> bool:
    """Staff grant rights on protected environments; namespace owners on the others."""
    if environment.protected:
        return permissions.is_staff(user)
    return permissions.can_manage_namespace(user, namespace)


def scope_filter(pairs: Iterable[tuple[int, int]]) -> Q:
    query = Q(pk__in=[])
    for namespace_id, environment_id in pairs:
        query |= Q(namespace_id=namespace_id, environment_id=environment_id)
    return query
