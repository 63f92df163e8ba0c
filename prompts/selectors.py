"""Reads reused by the portal (and later the API)."""

from dataclasses import dataclass

from django.db.models import Max, Prefetch, QuerySet

from portal.errors import NotFound
from prompts import diffs
from prompts.content import VersionContent
from prompts.models import Deployment, Environment, Experiment, ExperimentArm, Prompt, PromptVersion
from teams.permissions import Principal, namespaces_visible_to


def prompts_visible_to(*, user: Principal) -> QuerySet[Prompt]:
    return (
        Prompt.objects.filter(namespace__in=namespaces_visible_to(user=user))
        .select_related("namespace__team", "successor__namespace")
        .prefetch_related(
            "tags",
            Prefetch(
                "deployments",
                queryset=Deployment.objects.select_related("environment", "version").order_by(
                    "environment__order"
                ),
            ),
        )
        .annotate(latest_version=Max("versions__number"))
        .order_by("namespace__slug", "name")
    )


def prompt_get(*, user: Principal, namespace: str, name: str) -> Prompt:
    """A prompt the user may see; an invisible one is reported as missing, never as forbidden."""
    prompt = prompts_visible_to(user=user).filter(namespace__slug=namespace, name=name).first()
    if prompt is None:
        raise NotFound(f"No prompt {namespace}/{name}.")
    return prompt


def prompt_versions(*, prompt: Prompt) -> QuerySet[PromptVersion]:
    return prompt.versions.select_related("author", "parent").order_by("-number")


def prompt_version_get(*, prompt: Prompt, number: int) -> PromptVersion:
    version = prompt_versions(prompt=prompt).filter(number=number).first()
    if version is None:
        raise NotFound(f"{prompt.full_name} has no version {number}.")
    return version


@dataclass(frozen=True)
class EnvironmentDeployment:
    environment: Environment
    deployment: Deployment | None


def prompt_deployments(*, prompt: Prompt) -> list[EnvironmentDeployment]:
    """Every environment in order, with what this prompt runs there (or None)."""
    environments = Environment.objects.order_by("order").prefetch_related(
        Prefetch(
            "deployments",
            queryset=Deployment.objects.filter(prompt=prompt).select_related(
                "version", "deployed_by"
            ),
            to_attr="for_prompt",
        )
    )
    return [
        EnvironmentDeployment(environment=env, deployment=next(iter(env.for_prompt), None))
        for env in environments
    ]


def version_content(version: PromptVersion) -> VersionContent:
    return VersionContent(
        kind=version.prompt.kind,
        template_format=version.template_format,
        template=version.template,
        messages=version.messages,
        variables=list(version.variables),
        model_config=dict(version.model_config),
    )


def version_diff(*, old: PromptVersion, new: PromptVersion) -> diffs.VersionDiff:
    """Two versions compared: content (per message for chat), format, variables, model config;
    with the unified text the API answers with."""
    return diffs.version_diff(
        old=version_content(old),
        new=version_content(new),
        old_number=old.number,
        new_number=new.number,
        name=old.prompt.full_name,
    )


def experiments_visible_to(*, user: Principal) -> QuerySet[Experiment]:
    return (
        Experiment.objects.filter(prompt__namespace__in=namespaces_visible_to(user=user))
        .select_related(
            "prompt__namespace__team",
            "environment",
            "created_by",
            "stopped_by",
            "winner",
            "promotion_request",
        )
        .prefetch_related(
            Prefetch("arms", queryset=ExperimentArm.objects.select_related("version__author"))
        )
    )


def experiment_get(*, user: Principal, experiment_id: int) -> Experiment:
    """One experiment the caller may read (404 otherwise: nothing revealed)."""
    experiment = experiments_visible_to(user=user).filter(pk=experiment_id).first()
    if experiment is None:
        raise NotFound(f"No experiment {experiment_id}.")
    return experiment


def prompt_experiments(*, prompt: Prompt) -> QuerySet[Experiment]:
    """The prompt's experiments, newest first, with their environments and arms."""
    return (
        Experiment.objects.filter(prompt=prompt)
        .select_related("environment")
        .prefetch_related(
            Prefetch("arms", queryset=ExperimentArm.objects.select_related("version"))
        )
        .order_by("-created_at", "-pk")
    )
