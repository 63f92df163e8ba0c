"""The evaluation gate's panel on a promotion request's page."""

from django import template

from approvals.models import PromotionRequest
from approvals.services.gate import promotion_gate as gate_of
from prompts.evaluations.gate import GateState
from teams.permissions import can_edit_prompts

register = template.Library()


@register.simple_tag
def promotion_gate(promotion: PromotionRequest) -> GateState | None:
    """The gate's state, or None where the request's environment has no gate."""
    return gate_of(request=promotion)


@register.simple_tag(takes_context=True)
def may_run_evaluations(context: template.Context, promotion: PromotionRequest) -> bool:
    request = context.get("request")
    user = getattr(request, "user", None)
    return user is not None and can_edit_prompts(user, promotion.prompt.namespace)
