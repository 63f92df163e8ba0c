"""The prompt list as people and services browse it: search, and what runs where.

Search matches a prompt's name, namespace, description and tags, and the text, messages and
model name of its *current* versions: the newest one and every version deployed somewhere, so
a word removed three versions ago no longer finds the prompt. On PostgreSQL the text also
matches by English full-text search (a search for "refunds" finds "refund"); everywhere it
matches by case-insensitive substring, which is what finds `{{order_id}}` or `gpt-4o`.
"""

from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Case, IntegerField, OuterRef, Q, QuerySet, Subquery, When

from prompts.models import Deployment, Environment, Prompt, PromptVersion, Tag
from teams.permissions import Principal, namespaces_visible_to

MAX_QUERY_LENGTH = 200


def clean_query(value: str) -> str:
    """What a search box sent, as something safe to search for."""
    return value.replace("\x00", "").strip()[:MAX_QUERY_LENGTH]


def _current_versions(prompts: QuerySet[Prompt]) -> QuerySet[PromptVersion]:
    newest = (
        PromptVersion.objects.filter(prompt=OuterRef("prompt"))
        .order_by("-number")
        .values("number")[:1]
    )
    return PromptVersion.objects.filter(prompt__in=prompts.order_by().values("pk")).filter(
        Q(number=Subquery(newest)) | Q(pk__in=Deployment.objects.values("version"))
    )


def _version_text_matches(prompts: QuerySet[Prompt], query: str) -> QuerySet[PromptVersion]:
    """`search_text` holds the template or the messages' texts (never their JSON keys)."""
    versions = _current_versions(prompts)
    match = Q(search_text__icontains=query) | Q(model_config__model__icontains=query)
    if connection.vendor == "postgresql":
        versions = versions.annotate(document=SearchVector("search_text", config="english"))
        match |= Q(document=SearchQuery(query, search_type="websearch", config="english"))
    return versions.filter(match)


def search(prompts: QuerySet[Prompt], query: str) -> QuerySet[Prompt]:
    """The prompts of `prompts` that match `query`, those whose name matches first."""
    query = clean_query(query)
    if not query:
        return prompts
    by_name = Q(name__icontains=query) | Q(namespace__slug__icontains=query)
    tagged = Tag.objects.filter(slug__icontains=query).values("prompts")
    matching = prompts.filter(
        by_name
        | Q(description__icontains=query)
        | Q(pk__in=tagged)
        | Q(pk__in=_version_text_matches(prompts, query).values("prompt"))
    )
    return matching.annotate(
        name_hit=Case(When(by_name, then=1), default=0, output_field=IntegerField())
    ).order_by("-name_hit", "namespace__slug", "name")


def tags_in_use(*, user: Principal) -> QuerySet[Tag]:
    """The tags of the prompts the user may see (the home page's tag filter)."""
    return Tag.objects.filter(prompts__namespace__in=namespaces_visible_to(user=user)).distinct()


def running_in(prompts: QuerySet[Prompt], environment: str) -> QuerySet[Prompt]:
    """The prompts that run some version in `environment` (a slug)."""
    return prompts.filter(
        pk__in=Deployment.objects.filter(environment__slug=environment).values("prompt")
    )


@dataclass(frozen=True)
class Cell:
    """What one prompt runs in one environment; `ahead_of` names the next environment up when
    this one runs a newer version than it, or it runs nothing yet (waiting for a promotion)."""

    environment: Environment
    deployment: Deployment | None
    ahead_of: Environment | None = None


@dataclass(frozen=True)
class Row:
    prompt: Prompt
    cells: list[Cell]


def rows(prompts: list[Prompt], environments: list[Environment]) -> list[Row]:
    """Each prompt with a cell per environment, from the deployments prefetched with it
    (`selectors.prompts_visible_to`): no query of its own."""
    result = []
    for prompt in prompts:
        by_environment = {d.environment_id: d for d in prompt.deployments.all()}
        cells = []
        for index, environment in enumerate(environments):
            deployment = by_environment.get(environment.pk)
            above = environments[index + 1] if index + 1 < len(environments) else None
            higher = by_environment.get(above.pk) if above else None
            ahead = (
                deployment is not None
                and above is not None
                and (higher is None or deployment.version.number > higher.version.number)
            )
            cells.append(Cell(environment, deployment, above if ahead else None))
        result.append(Row(prompt, cells))
    return result
