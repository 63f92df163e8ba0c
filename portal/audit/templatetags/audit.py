from typing import Any

from django import template

from portal.audit.permissions import can_read_audit

register = template.Library()


@register.simple_tag(takes_context=True)
def may_read_audit(context: dict[str, Any]) -> bool:
    return can_read_audit(context["user"])
