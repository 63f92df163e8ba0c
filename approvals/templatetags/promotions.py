"""What the shared templates (navigation, prompt pages) ask about promotions, through
`teams.permissions` like every view. Call each once per page: it runs a query or two."""

from typing import Any

from django import template

from teams import permissions
from teams.models import Namespace

register = template.Library()


@register.simple_tag(takes_context=True)
def may_request_promotion(context: dict[str, Any], namespace: Namespace) -> bool:
    return permissions.can_request_promotion(context["user"], namespace)


@register.simple_tag(takes_context=True)
def may_read_audit(context: dict[str, Any]) -> bool:
    return permissions.can_read_audit(context["user"])
