"""What the teams services share: the groups each role puts a member in, the namespace
permissions each group holds, and the team row lock."""

from teams.models import Membership, Team
from teams.permissions import (
    NAMESPACE_EDIT_PROMPTS,
    NAMESPACE_MANAGE,
    NAMESPACE_REQUEST_PROMOTION,
    NAMESPACE_VIEW,
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


def lock_team(team: Team) -> Team:
    """Serialize the changes of one team: its rules (the actor is an owner, the last owner
    stays) read memberships, then write them."""
    return Team.objects.select_for_update().get(pk=team.pk)
