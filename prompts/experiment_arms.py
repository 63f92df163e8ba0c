"""The rules an experiment's arms follow, checked by `prompts.experiments.experiment_create`
under the prompt's lock: 2–5 arms, distinct versions of the prompt, whole weights of 1–99 %
summing to 100; and (`untested`) every arm but the control already ran in the environment just
below, so nothing untested reaches an environment through an experiment."""

from typing import Any

from portal.errors import Invalid
from prompts.models import ARM_LABELS, Deployment, Environment, Prompt, PromptVersion

MIN_ARMS, MAX_ARMS = 2, len(ARM_LABELS)


def environment_below(environment: Environment) -> Environment | None:
    return Environment.objects.filter(order__lt=environment.order).order_by("-order").first()


def ran_in(*, prompt: Prompt, environment: Environment, version: PromptVersion) -> bool:
    return Deployment.history.filter(
        prompt_id=prompt.pk, environment_id=environment.pk, version_id=version.pk
    ).exists()


def parse_arms(prompt: Prompt, arms: Any) -> list[tuple[PromptVersion, int]]:
    if not isinstance(arms, list) or not MIN_ARMS <= len(arms) <= MAX_ARMS:
        raise Invalid.field("arms", f"An experiment has {MIN_ARMS} to {MAX_ARMS} arms.")
    numbers, weights = [], []
    for index, arm in enumerate(arms):
        if not isinstance(arm, dict) or set(arm) - {"version", "weight"}:
            raise Invalid.field("arms", f"Arm {index + 1}: give exactly a version and a weight.")
        number, weight = arm.get("version"), arm.get("weight")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise Invalid.field("arms", f"Arm {index + 1}: the version is a version number.")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 99:
            raise Invalid.field("arms", f"Arm {index + 1}: the weight is a whole percent, 1–99.")
        numbers.append(number)
        weights.append(weight)
    if len(set(numbers)) != len(numbers):
        raise Invalid.field("arms", "Each arm runs a different version.")
    if sum(weights) != 100:
        raise Invalid.field("arms", f"The weights sum to {sum(weights)}; they must sum to 100.")
    versions = {v.number: v for v in prompt.versions.filter(number__in=numbers)}
    missing = [n for n in numbers if n not in versions]
    if missing:
        raise Invalid.field(
            "arms", f"{prompt.full_name} has no version {', '.join(map(str, missing))}."
        )
    return [(versions[n], w) for n, w in zip(numbers, weights, strict=True)]


def untested(
    *, prompt: Prompt, environment: Environment, versions: list[PromptVersion], control_id: int
) -> tuple[Environment | None, list[int]]:
    """The environment just below, and the numbers of the non-control versions that never
    ran there (none when there is no environment below)."""
    below = environment_below(environment)
    if below is None:
        return None, []
    return below, [
        v.number
        for v in versions
        if v.pk != control_id and not ran_in(prompt=prompt, environment=below, version=v)
    ]
