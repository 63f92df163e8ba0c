"""Rollback: re-point an environment at once to a version it ran before."""

from approvals import permissions as rights
from approvals.services.common import (
    cancel_experiment_requests,
    lock_prompt,
    refuse_retired,
    require_text,
)
from portal import outbox
from portal.errors import Conflict, ErrorCode
from portal.transactions import atomic_write
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from prompts.services import deployment_set
from teams import permissions
from teams.permissions import Principal, require


def previous_versions(*, prompt: Prompt, environment: Environment) -> list[PromptVersion]:
    """Versions the environment ran before, most recent first, without repeats."""
    seen: list[int] = []
    for version_id in (
        Deployment.history.filter(prompt_id=prompt.pk, environment_id=environment.pk)
        .order_by("-history_date", "-history_id")
        .values_list("version_id", flat=True)
    ):
        if version_id not in seen:
            seen.append(version_id)
    versions = {v.pk: v for v in PromptVersion.objects.filter(pk__in=seen)}
    return [versions[pk] for pk in seen if pk in versions]


@atomic_write
def rollback(
    *,
    actor: Principal,
    prompt: Prompt,
    environment: Environment,
    justification: str,
    version: PromptVersion | None = None,
) -> Deployment:
    """Re-point the environment at once to the version it ran before (or a named version it
    ran at some point). For holders of the promotion right; no approvals; audited. A retired
    prompt is refused, as promotions are: it answers 410 to every consumer."""
    require(permissions.is_user(actor), "Only people roll back.")
    justification = require_text(justification, "justification", "A justification")
    prompt = lock_prompt(prompt)
    require(
        rights.holds_promotion_right(actor, prompt.namespace, environment),
        f"You do not hold the promotion right for {prompt.namespace.slug} in {environment.slug}.",
    )
    refuse_retired(prompt)
    current = (
        Deployment.objects.select_for_update()
        .filter(prompt=prompt, environment=environment)
        .first()
    )
    if current is None:
        raise Conflict(
            f"{prompt.full_name} is not deployed in {environment.slug}.",
            code=ErrorCode.NOT_DEPLOYED,
        )
    history = previous_versions(prompt=prompt, environment=environment)
    if version is None:
        candidates = [v for v in history if v.pk != current.version_id]
        if not candidates:
            raise Conflict(
                f"{environment.slug} never ran another version of {prompt.full_name}.",
                code=ErrorCode.NOTHING_TO_ROLL_BACK_TO,
            )
        version = candidates[0]
    elif version.pk == current.version_id:
        raise Conflict(
            f"{environment.slug} already runs version {version.number}.",
            code=ErrorCode.ALREADY_DEPLOYED,
        )
    elif version.pk not in {v.pk for v in history}:
        raise Conflict(
            f"Version {version.number} never ran in {environment.slug}; promote it instead.",
            code=ErrorCode.NOT_PREVIOUSLY_DEPLOYED,
        )
    from_version = current.version.number
    deployment = deployment_set(
        prompt=prompt,
        environment=environment,
        version=version,
        actor=actor,
        action="deployment.rolled_back",
        justification=justification,
    )
    cancel_experiment_requests(
        actor=actor,
        prompt=prompt,
        environment=environment,
        reason=f"{environment.slug} was rolled back to v{version.number}: the experiment's "
        "control no longer runs there.",
    )
    outbox.enqueue("approvals.tasks.notify_rollback", deployment.pk, from_version, justification)
    return deployment
