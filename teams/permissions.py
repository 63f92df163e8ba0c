"""Who may see and do what in teams and namespaces. The one place the API and the portal ask.

Principals are Django users (session or personal token), anonymous visitors, and service
tokens (`portal.principals.ServicePrincipal`), which read the namespaces they were granted
and nothing else.

- Namespaces are `internal` (every signed-in user reads them) or `private` (the owning team's
  members, and whoever an app above grants reading through `namespace_readers`: reviewers
  holding a promotion right there must see what they review). Staff read everything.
- Each team has three groups (members, maintainers, owners) holding guardian object
  permissions on the team's namespaces: `view_namespace` (members), `change_prompts` and
  `request_promotion` (maintainers), `manage_namespace` (owners).
- A personal token limited to namespaces (teams.authentication sets `token_namespace_ids` on
  its user for the request) succeeds in no namespace-level check outside them, internal
  namespaces and staff's included: `namespace_limit` is asked first everywhere below.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from portal.errors import PermissionDenied
from portal.principals import Principal, ServicePrincipal, is_staff, is_user
from teams.hooks import namespace_readers
from teams.models import Membership, Namespace, Team

__all__ = ["Principal", "ServicePrincipal", "is_staff", "is_user"]

NAMESPACE_VIEW = "teams.view_namespace"
NAMESPACE_EDIT_PROMPTS = "teams.change_prompts"
NAMESPACE_REQUEST_PROMOTION = "teams.request_promotion"
NAMESPACE_MANAGE = "teams.manage_namespace"


def require(allowed: bool, detail: str) -> None:
    if not allowed:
        raise PermissionDenied(detail)


# --- Namespaces ---------------------------------------------------------------------------


def _granted_elsewhere(user: AbstractBaseUser) -> Q:
    granted = Q(pk__in=[])
    for readers in namespace_readers:
        granted |= Q(pk__in=readers(user=user))
    return granted


def namespace_limit(user: Principal) -> frozenset[int] | None:
    """The namespaces a caller is held to by its token (None: no limit beyond its rights)."""
    if isinstance(user, ServicePrincipal):
        return user.namespace_ids
    return getattr(user, "token_namespace_ids", None)


def within_limit(user: Principal, namespace_id: int) -> bool:
    limit = namespace_limit(user)
    return limit is None or namespace_id in limit


def namespaces_visible_to(*, user: Principal) -> QuerySet[Namespace]:
    queryset = Namespace.objects.select_related("team")
    limit = getattr(user, "token_namespace_ids", None)
    if limit is not None:
        queryset = queryset.filter(pk__in=limit)
    if isinstance(user, ServicePrincipal):
        return queryset.filter(pk__in=user.namespace_ids)
    if not is_user(user):
        return queryset.none()
    if user.is_staff:
        return queryset
    member_of = get_objects_for_user(
        user, NAMESPACE_VIEW, klass=Namespace, accept_global_perms=False, with_superuser=False
    )
    return queryset.filter(
        Q(visibility=Namespace.Visibility.INTERNAL)
        | Q(pk__in=member_of.values("pk"))
        | _granted_elsewhere(user)
    )


def can_view_namespace(user: Principal, namespace: Namespace) -> bool:
    if isinstance(user, ServicePrincipal):
        return namespace.pk in user.namespace_ids
    if not is_user(user) or not within_limit(user, namespace.pk):
        return False
    return (
        user.is_staff
        or namespace.visibility == Namespace.Visibility.INTERNAL
        or user.has_perm(NAMESPACE_VIEW, namespace)
        or Namespace.objects.filter(_granted_elsewhere(user), pk=namespace.pk).exists()
    )


def _namespace_perm(user: Principal, perm: str, namespace: Namespace) -> bool:
    return (
        is_user(user)
        and within_limit(user, namespace.pk)
        and (user.is_staff or user.has_perm(perm, namespace))
    )


def can_edit_prompts(user: Principal, namespace: Namespace) -> bool:
    return _namespace_perm(user, NAMESPACE_EDIT_PROMPTS, namespace)


def can_request_promotion(user: Principal, namespace: Namespace) -> bool:
    return _namespace_perm(user, NAMESPACE_REQUEST_PROMOTION, namespace)


def can_manage_namespace(user: Principal, namespace: Namespace) -> bool:
    return _namespace_perm(user, NAMESPACE_MANAGE, namespace)


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


def can_look_up_people(user: Principal) -> bool:
    """Who is offered people's usernames and names as they type: those who add members or
    grant promotion rights (staff and team owners), not everyone signed in."""
    return is_staff(user) or (
        is_user(user) and Membership.objects.filter(user=user, role=Membership.Role.OWNER).exists()
    )
