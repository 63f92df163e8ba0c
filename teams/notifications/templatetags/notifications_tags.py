from typing import Any

from django import template

from teams import permissions
from teams.models import Team
from teams.notifications import selectors
from teams.notifications.events import LABELS
from teams.notifications.forms import WebhookForm

register = template.Library()


@register.filter
def event_label(event: str) -> str:
    return LABELS.get(event, event)


@register.simple_tag(takes_context=True)
def team_webhooks(context: dict[str, Any], team: Team) -> dict[str, Any]:
    """The team page's webhooks section: for the team's owners and staff only."""
    user = context["request"].user
    if not permissions.can_manage_team(user, team):
        return {"visible": False}
    return {
        "visible": True,
        "hooks": list(selectors.team_webhooks(user=user, team=team)),
        "form": WebhookForm(),
    }
