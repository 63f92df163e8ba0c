"""Reads reused by the portal (and later the API)."""

import difflib
from dataclasses import dataclass

from django.db.models import Max, Prefetch, QuerySet

from portal.errors import NotFound
from prompts.content import VersionContent, content_text, settings_text
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from teams.permissions import Principal, namespaces_visible_to


def prompts_visible_to(*, user: Principal) -> QuerySet[Prompt]:
    return (
        Prompt.objects.filter(namespace__in=namespaces_visible_to(user=user))
        .select_related("namespace__team")
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


@dataclass(frozen=True)
class VersionDiff:
    old_number: int
    new_number: int
    content: str
    settings: str

    @property
    def unified(self) -> str:
        return self.content + self.settings

    @property
    def identical(self) -> bool:
        return not self.content and not self.settings


def _unified(old: str, new: str, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=old_label,
        tofile=new_label,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def version_diff(*, old: PromptVersion, new: PromptVersion) -> VersionDiff:
    """Unified diffs of two versions' content and of their format, variables and model config."""
    name = old.prompt.full_name
    old_content, new_content = version_content(old), version_content(new)
    return VersionDiff(
        old_number=old.number,
        new_number=new.number,
        content=_unified(
            content_text(old_content),
            content_text(new_content),
            f"{name}@{old.number}",
            f"{name}@{new.number}",
        ),
        settings=_unified(
            settings_text(old_content),
            settings_text(new_content),
            f"{name}@{old.number} settings",
            f"{name}@{new.number} settings",
        ),
    )
