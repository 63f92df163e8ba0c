from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from teams.models import Membership, Namespace, Team

User = AbstractBaseUser | AnonymousUser


def teams_visible_to(*, user: User) -> QuerySet[Team]:
    """Teams are known across the organisation; their private namespaces are not."""
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.all()


def namespaces_visible_to(*, user: User) -> QuerySet[Namespace]:
    """Internal namespaces for every signed-in user, private ones for their team's members."""
    if not user.is_authenticated or not user.is_active:
        return Namespace.objects.none()
    queryset = Namespace.objects.select_related("team")
    if user.is_staff:
        return queryset
    return queryset.filter(
        Q(visibility=Namespace.Visibility.INTERNAL) | Q(team__memberships__user=user)
    ).distinct()


def team_members(*, team: Team) -> QuerySet[Membership]:
    return team.memberships.select_related("user").order_by("user__username")


def user_roles(*, user: User) -> dict[int, str]:
    """Team id -> the user's role there."""
    if not user.is_authenticated:
        return {}
    return dict(Membership.objects.filter(user=user).values_list("team_id", "role"))
