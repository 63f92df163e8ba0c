import datetime as dt

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from portal.audit.permissions import AUDITORS_GROUP
from portal.errors import NotFound
from teams import permissions
from teams.models import ApiToken, Membership, Namespace, Team
from teams.permissions import Principal, namespaces_visible_to

__all__ = ["namespaces_visible_to"]


def teams_visible_to(*, user: Principal) -> QuerySet[Team]:
    """Teams are known across the organisation; their private namespaces are not."""
    if not permissions.can_view_teams(user):
        return Team.objects.none()
    return Team.objects.annotate(member_count=Count("memberships", distinct=True))


def team_get(*, user: Principal, slug: str) -> Team:
    team = teams_visible_to(user=user).filter(slug=slug).first()
    if team is None:
        raise NotFound(f"No team {slug}.")
    return team


def namespace_get(*, user: Principal, slug: str) -> Namespace:
    """A namespace the user may see; an invisible one is reported as missing."""
    namespace = namespaces_visible_to(user=user).filter(slug=slug).first()
    if namespace is None:
        raise NotFound(f"No namespace {slug}.")
    return namespace


def user_by_username(*, username: str, active_only: bool = True) -> AbstractBaseUser | None:
    users = get_user_model().objects.filter(username=username)
    return (users.filter(is_active=True) if active_only else users).first()


def people(*, query: str = "") -> QuerySet:
    """Everyone, for staff, with `is_auditor` (in the auditors group)."""
    User = get_user_model()
    auditor = User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name=AUDITORS_GROUP)
    users = User.objects.annotate(is_auditor=Exists(auditor)).order_by("username")
    if query:
        users = users.filter(Q(username__icontains=query) | Q(email__icontains=query))
    return users


SUGGESTIONS = 10


def users_suggested(*, user: Principal, query: str) -> QuerySet:
    """Active people whose username or name starts with `query`, for the user fields of team
    owners and staff (teams.permissions.can_look_up_people)."""
    if not query or not permissions.can_look_up_people(user):
        return get_user_model().objects.none()
    match = (
        Q(username__istartswith=query)
        | Q(first_name__istartswith=query)
        | Q(last_name__istartswith=query)
    )
    users = get_user_model().objects.filter(match, is_active=True).order_by("username")
    return users[:SUGGESTIONS]


def teams_suggested(*, user: Principal, query: str) -> QuerySet[Team]:
    """Teams whose slug or name contains `query`, for a team field."""
    if not query:
        return Team.objects.none()
    return (
        teams_visible_to(user=user)
        .filter(Q(slug__icontains=query) | Q(name__icontains=query))
        .order_by("slug")[:SUGGESTIONS]
    )


def team_by_slug(*, slug: str) -> Team | None:
    return Team.objects.filter(slug=slug).first()


def team_members(*, team: Team) -> QuerySet[Membership]:
    return team.memberships.select_related("user", "team").order_by("user__username")


def membership_get(*, team: Team, username: str) -> Membership:
    membership = team_members(team=team).filter(user__username=username).first()
    if membership is None:
        raise NotFound(f"{username} is not a member of {team.slug}.")
    return membership


def user_roles(*, user: Principal) -> dict[int, str]:
    """Team id -> the user's role there."""
    if not permissions.is_user(user):
        return {}
    return dict(Membership.objects.filter(user=user).values_list("team_id", "role"))


def tokens_of(*, user: Principal) -> QuerySet[ApiToken]:
    if not permissions.is_user(user):
        return ApiToken.objects.none()
    return (
        ApiToken.objects.filter(kind=ApiToken.Kind.PERSONAL, user=user)
        .select_related("created_by")
        .prefetch_related("namespaces")
        .order_by("-created")
    )


def service_tokens_of(*, namespace: Namespace) -> QuerySet[ApiToken]:
    return (
        namespace.service_tokens.filter(kind=ApiToken.Kind.SERVICE)
        .select_related("created_by")
        .prefetch_related("namespaces")
        .order_by("-created")
    )


def current_lockouts() -> QuerySet[AccessAttempt]:
    """Username and address pairs locked out of signing in now (django-axes' attempts)."""
    since = timezone.now() - dt.timedelta(hours=settings.AXES_COOLOFF_TIME)
    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
    ).order_by("-attempt_time")
