"""The evaluation gate in the promotion workflow. A promotion into an environment with
`requires_evaluation` applies only when `prompts.evaluations.gate` lets its version in:
without approvals to wait for, the request is refused (409 naming the missing or failing
runs); with approvals, they are collected meanwhile and the request stays pending until the
last condition is met: the last approval, or a passing run (the `run_finished` hook)."""

from approvals.models import PromotionRequest
from portal import outbox
from portal.errors import Conflict
from prompts.evaluations.gate import GateState, gate_refusal, gate_state
from prompts.evaluations.models import Run


def _gated(request: PromotionRequest) -> bool:
    return request.kind == PromotionRequest.Kind.PROMOTION and bool(
        request.environment.requires_evaluation
    )


def promotion_gate_refusal(request: PromotionRequest) -> Conflict | None:
    """Why the gate keeps `request` from applying now, or None."""
    if not _gated(request):
        return None
    return gate_refusal(
        prompt=request.prompt, version=request.version, environment=request.environment
    )


def promotion_gate(*, request: PromotionRequest) -> GateState | None:
    """The gate's state for the request page, or None where the environment has no gate."""
    if not _gated(request):
        return None
    return gate_state(
        prompt=request.prompt, version=request.version, environment=request.environment
    )


def run_finished(*, run: Run) -> None:
    """Registered on `prompts.evaluations.hooks.run_finished` (in the run's transaction): a
    passing run may complete the gate of pending requests, so after commit re-evaluate the
    pending requests of its namespace (applying those whose every condition is met now)."""
    if run.state != Run.State.PASSED:
        return
    pending = PromotionRequest.objects.filter(
        prompt_id=run.prompt_id, version_id=run.version_id, state=PromotionRequest.State.PENDING
    )
    if pending.exists():
        namespace_id = run.prompt.namespace_id
        outbox.enqueue("approvals.tasks.reevaluate_pending", namespace_id, None, None)
