"""The portal's prompts as prompts-as-code files: each prompt's newest version, its
description and tags, and each of its suites as a promptfoo file beside it. Syncing what this
writes changes nothing."""

import itertools
from typing import Any

from django.db.models import OuterRef, Prefetch, Subquery
from django.utils.text import slugify

from approvals.sync.files import SyncFile
from approvals.sync.spec import dump_yaml
from prompts.evaluations import promptfoo
from prompts.evaluations.models import Case, Suite
from prompts.models import Prompt, PromptVersion
from prompts.selectors import prompts_visible_to
from teams.permissions import Principal


def _prompts(*, actor: Principal | None, namespaces: list[str]):
    queryset = (
        Prompt.objects.all() if actor is None else prompts_visible_to(user=actor)
    ).select_related("namespace")
    if namespaces:
        queryset = queryset.filter(namespace__slug__in=namespaces)
    newest = PromptVersion.objects.filter(prompt=OuterRef("pk")).order_by("-number")
    queryset = queryset.annotate(newest_id=Subquery(newest.values("pk")[:1])).filter(
        newest_id__isnull=False
    )
    return queryset.prefetch_related(
        "tags",
        Prefetch(
            "suites",
            queryset=Suite.objects.order_by("name").prefetch_related(
                Prefetch("cases", queryset=Case.objects.order_by("position"))
            ),
        ),
    ).order_by("namespace__slug", "name")


def _document(prompt: Prompt, version: PromptVersion, suites: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "namespace": prompt.namespace.slug,
        "name": prompt.name,
        "kind": prompt.kind,
        "description": prompt.description,
        "tags": sorted(tag.slug for tag in prompt.tags.all()),
        "template_format": version.template_format,
        "variables": list(version.variables),
        "model_config": dict(version.model_config),
    }
    if prompt.kind == Prompt.Kind.CHAT:
        document["messages"] = version.messages
    else:
        document["template"] = version.template
    document["message"] = version.message
    if suites:
        document["suites"] = suites
    return document


def prompts_export(
    *, actor: Principal | None = None, namespaces: list[str] | None = None
) -> list[SyncFile]:
    """One file per prompt that has a version (`<namespace>/<name>.yaml`), and one per suite
    (`<namespace>/<name>.<suite>.promptfoo.yaml`). `actor`: only what they may read; None:
    everything (an operator's export)."""
    files = []
    prompts = list(_prompts(actor=actor, namespaces=namespaces or []))
    versions = PromptVersion.objects.in_bulk([prompt.newest_id for prompt in prompts])
    for prompt in prompts:
        version = versions[prompt.newest_id]
        suites: dict[str, str] = {}
        for suite in prompt.suites.all():
            stem = slugify(suite.name) or "suite"
            taken = set(suites.values())
            filename = next(
                name
                for index in itertools.count(1)
                if (name := f"{prompt.name}.{stem}{index if index > 1 else ''}.promptfoo.yaml")
                not in taken
            )
            suites[suite.name] = filename
            content = promptfoo.export(
                description=suite.description, cases=list(suite.cases.all()), format="promptfoo"
            )
            files.append(SyncFile(path=f"{prompt.namespace.slug}/{filename}", content=content))
        files.append(
            SyncFile(
                path=f"{prompt.namespace.slug}/{prompt.name}.yaml",
                content=dump_yaml(_document(prompt, version, suites)),
            )
        )
    return sorted(files, key=lambda file: file.path)
