"""Who may see and do what. The one place the API and the portal ask.

Principals are Django users (session or personal token), anonymous visitors, and service
tokens (`ServicePrincipal`), which read the namespaces they were granted and nothing else.

- Namespaces are `internal` (every signed-in user reads them) or `private` (the owning team's
  members, and holders of a promotion right there, who must see what they review). Staff read
  everything.
- Each team has three groups (members, maintainers, owners) holding guardian object
  permissions on the team's namespaces: `view_namespace` (members), `change_prompts` and
  `request_promotion` (maintainers), `manage_namespace` (owners).
- Promotion rights are guardian `promote` permissions on a `PromotionScope` (namespace ×
  environment), held by users or by a team's members group. Superusers hold none implicitly.
"""

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_objects_for_user

from portal.errors import PermissionDenied
from teams.models import Membership, Namespace, PromotionScope, Team


@dataclass(frozen=True)
class ServicePrincipal:
    """The caller behind a service token: reads its namespaces, writes nothing."""

    token_id: str
    prefix: str
    name: str
    namespace_ids: frozenset[int] = field(default_factory=frozenset)

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    @property
    def username(self) -> str:
        return f"service-token:{self.prefix}"

    def __str__(self) -> str:
        return f"service token {self.name!r} ({self.prefix})"

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False


Principal = AbstractBaseUser | AnonymousUser | ServicePrincipal

NAMESPACE_VIEW = "teams.view_namespace"
NAMESPACE_EDIT_PROMPTS = "teams.change_prompts"
NAMESPACE_REQUEST_PROMOTION = "teams.request_promotion"
NAMESPACE_MANAGE = "teams.manage_namespace"


def is_user(principal: Principal | None) -> bool:
    """A signed-in, active person (not a service token, not anonymous)."""
    return (
        principal is not None
        and not isinstance(principal, ServicePrincipal)
        and principal.is_authenticated
        and principal.is_active
    )


def is_staff(principal: Principal) -> bool:
    return is_user(principal) and principal.is_staff


def require(allowed: bool, detail: str) -> None:
    if not allowed:
        raise PermissionDenied(detail)


# --- Namespaces ---------------------------------------------------------------------------


def namespaces_visible_to(*, user: Principal) -> QuerySet[Namespace]:
    queryset = Namespace.objects.select_related("team")
    if isinstance(user, ServicePrincipal):
        return queryset.filter(pk__in=user.namespace_ids)
    if not is_user(user):
        return queryset.none()
    if user.is_staff:
        return queryset
    granted = get_objects_for_user(
        user, NAMESPACE_VIEW, klass=Namespace, accept_global_perms=False, with_superuser=False
    )
    return queryset.filter(
        Q(visibility=Namespace.Visibility.INTERNAL)
        | Q(pk__in=granted.values("pk"))
        | Q(pk__in=_promotion_scopes_of(user).values("namespace_id"))
    )


def _promotion_scopes_of(user: AbstractBaseUser) -> QuerySet[PromotionScope]:
    """Scopes the user may approve in: reviewers see what they review, even across teams."""
    return get_objects_for_user(
        user,
        "teams.promote",
        klass=PromotionScope,
        accept_global_perms=False,
        with_superuser=False,
    )


def can_view_namespace(user: Principal, namespace: Namespace) -> bool:
    if isinstance(user, ServicePrincipal):
        return namespace.pk in user.namespace_ids
    if not is_user(user):
        return False
    return (
        user.is_staff
        or namespace.visibility == Namespace.Visibility.INTERNAL
        or user.has_perm(NAMESPACE_VIEW, namespace)
        or _promotion_scopes_of(user).filter(namespace=namespace).exists()
    )


def _namespace_perm(user: Principal, perm: str, namespace: Namespace) -> bool:
    return is_user(user) and (user.is_staff or user.has_perm(perm, namespace))


def can_edit_prompts(user: Principal, namespace: Namespace) -> bool:
    return _namespace_perm(user, NAMESPACE_EDIT_PROMPTS, namespace)


def can_request_promotion(user: Principal, namespace: Namespace) -> bool:
    return _namespace_perm(user, NAMESPACE_REQUEST_PROMOTION, namespace)


def can_manage_namespace(user: Principal, namespace: Namespace) -> bool:
    return _namespace_perm(user, NAMESPACE_MANAGE, namespace)


def can_grant_promotion_right(user: Principal, namespace: Namespace, environment) -> bool:
    """Staff grant rights on protected environments; namespace owners on the others."""
    if environment.protected:
        return is_staff(user)
    return can_manage_namespace(user, namespace)


# --- Teams ----------------------------------------------------------------------------------


def team_role(user: Principal, team: Team) -> str | None:
    if not is_user(user):
        return None
    return Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()


def can_view_teams(user: Principal) -> bool:
    """Teams and their members are known across the organisation (not to service tokens)."""
    return is_user(user)


def can_manage_team(user: Principal, team: Team) -> bool:
    return is_staff(user) or team_role(user, team) == Membership.Role.OWNER


def can_create_namespace(user: Principal, team: Team) -> bool:
    return can_manage_team(user, team)


# --- Promotion rights -------------------------------------------------------------------------


def holds_promotion_right(user: Principal, namespace: Namespace, environment) -> bool:
    """An explicit grant to the user or to a group they are in; never implied by superuser."""
    if not is_user(user):
        return False
    scope = PromotionScope.objects.filter(namespace=namespace, environment=environment).first()
    if scope is None:
        return False
    lookup = {
        "content_type": ContentType.objects.get_for_model(PromotionScope),
        "object_pk": str(scope.pk),
        "permission__codename": "promote",
    }
    return (
        UserObjectPermission.objects.filter(user=user, **lookup).exists()
        or GroupObjectPermission.objects.filter(group__user=user, **lookup).exists()
    )


# --- Audit ------------------------------------------------------------------------------------

AUDITORS_GROUP = "auditors"


def can_read_audit(user: Principal) -> bool:
    """Staff and members of the `auditors` group read and export the audit log."""
    return is_user(user) and (user.is_staff or user.groups.filter(name=AUDITORS_GROUP).exists())
