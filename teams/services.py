from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from portal.validation import clean_or_invalid, conflict_on_integrity_error
from teams.models import Membership, Namespace, Team


def team_create(*, slug: str, name: str, description: str = "") -> Team:
    team = Team(slug=slug, name=name, description=description)
    clean_or_invalid(team)
    with conflict_on_integrity_error(f"A team with slug {slug!r} already exists."):
        team.save()
    return team


@transaction.atomic
def membership_set(*, team: Team, user: AbstractBaseUser, role: str) -> Membership:
    """Add a member or change their role."""
    membership = Membership.objects.select_for_update().filter(
        team=team, user=user
    ).first() or Membership(team=team, user=user)
    if membership.pk and membership.role == role:
        return membership
    membership.role = role
    clean_or_invalid(membership, exclude=["team", "user"])
    with conflict_on_integrity_error(f"{user} is already a member of {team}."):
        membership.save()
    return membership


def namespace_create(
    *,
    slug: str,
    team: Team,
    description: str = "",
    visibility: str = Namespace.Visibility.INTERNAL,
) -> Namespace:
    namespace = Namespace(slug=slug, team=team, description=description, visibility=visibility)
    clean_or_invalid(namespace)
    with conflict_on_integrity_error(f"A namespace with slug {slug!r} already exists."):
        namespace.save()
    return namespace
