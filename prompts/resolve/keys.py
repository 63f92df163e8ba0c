"""Where resolve answers live in the cache, and what a change invalidates (inside the
writer's transaction, delivered through the outbox after commit)."""

from collections.abc import Iterable

from portal import outbox
from prompts.composition import MAX_INCLUDE_DEPTH
from prompts.models import Prompt, VersionInclude
from teams.models import Namespace

# Part of every key: a Redis kept across an upgrade that changed the entries' shape holds old
# entries under other names, which nobody reads and which expire.
KEY_VERSION = "v3"


def _prompt_gen_key(full_name: str) -> str:
    return f"resolve:{KEY_VERSION}:gen:p:{full_name}"


def _namespace_gen_key(namespace: str) -> str:
    return f"resolve:{KEY_VERSION}:gen:ns:{namespace}"


def _entry_key(environment: str, namespace: str, name: str, version: int | None) -> str:
    return f"resolve:{KEY_VERSION}:{environment}:{namespace}/{name}:{version or 'live'}"


def cache_keys(*, namespace: str, name: str, environment: str, version: int | None) -> list[str]:
    """What a resolve reads, in one round trip: the answer, then its two generations."""
    return [
        _entry_key(environment, namespace, name, version),
        _prompt_gen_key(f"{namespace}/{name}"),
        _namespace_gen_key(namespace),
    ]


def _with_dependents(prompt_ids: set[int]) -> set[int]:
    """The prompts and, transitively, every prompt one of whose versions includes them."""
    found, frontier = set(prompt_ids), set(prompt_ids)
    for _ in range(MAX_INCLUDE_DEPTH + 1):
        frontier = (
            set(
                VersionInclude.objects.filter(included_id__in=frontier).values_list(
                    "prompt_id", flat=True
                )
            )
            - found
        )
        if not frontier:
            break
        found |= frontier
    return found


def _prompt_keys(prompt_ids: set[int]) -> list[str]:
    names = Prompt.objects.filter(pk__in=prompt_ids).values_list("namespace__slug", "name")
    return [_prompt_gen_key(f"{namespace}/{name}") for namespace, name in names]


def invalidate_prompts(prompts: Iterable[Prompt]) -> None:
    """Cached answers of these prompts, and of the prompts that include them, are stale once
    this transaction commits."""
    outbox.invalidate(*_prompt_keys(_with_dependents({prompt.pk for prompt in prompts})))


def namespace_changed(*, namespace: Namespace, before: dict, after: dict) -> None:
    """Registered as the `teams.hooks.namespace_changed` hook. When the visibility changed,
    the namespace's answers (which carry it) and the answers of prompts elsewhere that
    include its prompts (which may no longer) are stale; its team and description are in no
    answer."""
    if before["visibility"] == after["visibility"]:
        return
    own = set(namespace.prompts.values_list("pk", flat=True))
    outbox.invalidate(
        _namespace_gen_key(namespace.slug), *_prompt_keys(_with_dependents(own) - own)
    )
