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
    return bool(request.environment.requires_evaluation)


def versions_gate_refusal(*, prompt, versions, environment) -> Conflict | None:
    """The first refusal among these versions (an experiment's challengers: each would serve
    part of the environment's traffic), or None."""
    if not environment.requires_evaluation:
        return None
    for version in versions:
        refusal = gate_refusal(prompt=prompt, version=version, environment=environment)
        if refusal is not None:
            return refusal
    return None


def promotion_gate_refusal(request: PromotionRequest) -> Conflict | None:
    """Why the gate keeps `request` from applying now, or None. For an experiment, every
    version it would serve besides the control must pass."""
    if not _gated(request):
        return None
    return versions_gate_refusal(
        prompt=request.prompt,
        versions=request.changed_versions(),
        environment=request.environment,
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
    pending = PromotionRequest.objects.filter(  # promotions and experiments of the prompt
        prompt_id=run.prompt_id, state=PromotionRequest.State.PENDING
    )
    if pending.exists():
        namespace_id = run.prompt.namespace_id
        outbox.enqueue("approvals.tasks.reevaluate_pending", namespace_id, None, None)
