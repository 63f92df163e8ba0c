"""Rollback: re-point an environment at once to a version it ran before."""

from django.db import transaction

from approvals.services.promotions import _lock_prompt, _require_text
from portal.errors import Conflict
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


@transaction.atomic
def rollback(
    *,
    actor: Principal,
    prompt: Prompt,
    environment: Environment,
    justification: str,
    version: PromptVersion | None = None,
) -> Deployment:
    """Re-point the environment at once to the version it ran before (or a named version it
    ran at some point). For holders of the promotion right; no approvals; audited."""
    require(permissions.is_user(actor), "Only people roll back.")
    require(
        permissions.holds_promotion_right(actor, prompt.namespace, environment),
        f"You do not hold the promotion right for {prompt.namespace.slug} in {environment.slug}.",
    )
    justification = _require_text(justification, "justification", "A justification")
    prompt = _lock_prompt(prompt)
    current = (
        Deployment.objects.select_for_update()
        .filter(prompt=prompt, environment=environment)
        .first()
    )
    if current is None:
        raise Conflict(
            f"{prompt.full_name} is not deployed in {environment.slug}.", code="not_deployed"
        )
    history = previous_versions(prompt=prompt, environment=environment)
    if version is None:
        candidates = [v for v in history if v.pk != current.version_id]
        if not candidates:
            raise Conflict(
                f"{environment.slug} never ran another version of {prompt.full_name}.",
                code="nothing_to_roll_back_to",
            )
        version = candidates[0]
    elif version.pk == current.version_id:
        raise Conflict(
            f"{environment.slug} already runs version {version.number}.", code="already_deployed"
        )
    elif version.pk not in {v.pk for v in history}:
        raise Conflict(
            f"Version {version.number} never ran in {environment.slug}; promote it instead.",
            code="not_previously_deployed",
        )
    return deployment_set(
        prompt=prompt,
        environment=environment,
        version=version,
        actor=actor,
        action="deployment.rolled_back",
        justification=justification,
    )
