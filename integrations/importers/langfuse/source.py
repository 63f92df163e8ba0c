"""What a Langfuse instance holds, read without the `langfuse` SDK (a test-only dependency):
its public prompt API over urllib3, or an export file of the same shapes.

An export file is JSON: a list of prompt versions, each exactly as
`GET /api/public/v2/prompts/{name}?version=N` answers it (`name`, `version`, `type`, `prompt`,
`config`, `labels`, `tags`, `commitMessage`; other keys are ignored), or an object
`{"prompts": [...]}` holding that list. Versions of one prompt may come in any order.

Reading never stops at one bad prompt: an entry that cannot be read becomes a problem of its
prompt (or, without a usable name, a prompt of its own named after its position), which the
importer reports as failed while it imports the others.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3

TEXT, CHAT = "text", "chat"
PAGE_SIZE = 50
MAX_PAGES = 10_000
TIMEOUT_SECONDS = 15


class SourceError(Exception):
    """The source cannot be read at all (unreachable, refused, not an export file)."""


@dataclass(frozen=True)
class SourceVersion:
    number: int
    kind: str
    prompt: Any  # the text, or the chat messages as Langfuse gives them
    config: dict | None
    labels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    commit_message: str = ""


@dataclass
class SourcePrompt:
    name: str
    versions: list[SourceVersion] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.versions[-1].kind if self.versions else TEXT


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(value)


def parse_version(entry: Any) -> SourceVersion:
    """One version as the API answers it; ValueError says what is wrong with it."""
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    number = entry.get("version")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError("`version` must be a positive integer")
    content = entry.get("prompt")
    kind = entry.get("type") or (CHAT if isinstance(content, list) else TEXT)
    if kind not in (TEXT, CHAT):
        raise ValueError(f"version {number}: unknown type {kind!r} (text or chat)")
    if kind == TEXT and not isinstance(content, str):
        raise ValueError(f"version {number}: a text prompt's `prompt` must be a string")
    if kind == CHAT and not isinstance(content, list):
        raise ValueError(f"version {number}: a chat prompt's `prompt` must be a list of messages")
    config = entry.get("config")
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"version {number}: `config` must be an object or null")
    message = entry.get("commitMessage")
    if message is not None and not isinstance(message, str):
        raise ValueError(f"version {number}: `commitMessage` must be a string or null")
    return SourceVersion(
        number=number,
        kind=kind,
        prompt=content,
        config=config,
        labels=_strings(entry.get("labels"), f"version {number}: `labels`"),
        tags=_strings(entry.get("tags"), f"version {number}: `tags`"),
        commit_message=(message or "").strip(),
    )


def group_versions(entries: Iterable[Any]) -> list[SourcePrompt]:
    """Entries (any order) → prompts by name, each with its versions in order and the
    problems that make it unimportable (a bad entry, a repeated number, two kinds, a label
    on two versions)."""
    prompts: dict[str, SourcePrompt] = {}
    for position, entry in enumerate(entries, start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip():
            prompts[f"(entry {position})"] = SourcePrompt(
                name=f"(entry {position})", problems=["entry without a `name`"]
            )
            continue
        prompt = prompts.setdefault(name, SourcePrompt(name=name))
        try:
            prompt.versions.append(parse_version(entry))
        except ValueError as exc:
            prompt.problems.append(f"entry {position}: {exc}")
    for prompt in prompts.values():
        prompt.versions.sort(key=lambda version: version.number)
        prompt.problems += _inconsistencies(prompt.versions)
    return sorted(prompts.values(), key=lambda prompt: prompt.name)


def _inconsistencies(versions: list[SourceVersion]) -> list[str]:
    problems = []
    numbers = [version.number for version in versions]
    repeated = sorted({number for number in numbers if numbers.count(number) > 1})
    if repeated:
        problems.append(f"version {', '.join(map(str, repeated))} given more than once")
    if len({version.kind for version in versions}) > 1:
        problems.append("versions of both types, text and chat")
    holders: dict[str, list[int]] = {}
    for version in versions:
        for label in version.labels:
            holders.setdefault(label, []).append(version.number)
    problems += [
        f"label {label!r} on versions {', '.join(map(str, held))} (a label names one version)"
        for label, held in sorted(holders.items())
        if len(held) > 1
    ]
    return problems


def read_export(path: Path) -> list[SourcePrompt]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"Cannot read {path}: {exc}") from exc
    if isinstance(document, dict) and isinstance(document.get("prompts"), list):
        document = document["prompts"]
    if not isinstance(document, list):
        raise SourceError(
            f'{path} is not an export: expected a list of prompt versions or {{"prompts": [...]}}.'
        )
    return group_versions(document)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _listed(item: Any, where: str) -> tuple[str, list[int]]:
    """(name, version numbers) of one row of the prompt list."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise SourceError(f"{where}: a row of `data` is not a prompt (an object with a `name`).")
    versions = item.get("versions")
    if versions is None:
        return item["name"], []
    if not isinstance(versions, list) or not all(_count(v) and v > 0 for v in versions):
        raise SourceError(
            f"{where}: `versions` of {item['name'][:200]!r} is not a list of version numbers."
        )
    return item["name"], sorted(versions)


def _total_pages(body: dict, where: str) -> int:
    meta = body.get("meta")
    if meta is None:
        return 0
    if not isinstance(meta, dict):
        raise SourceError(f"{where}: `meta` is not an object (page, limit, totalPages).")
    total = meta.get("totalPages")
    if total is None:
        return 0
    if not _count(total):
        raise SourceError(f"{where}: `meta.totalPages` is not a number of pages.")
    return total


class LangfuseClient:
    """The two GETs of Langfuse's public prompt API, with HTTP Basic (public:secret)."""

    def __init__(self, url: str, public_key: str, secret_key: str) -> None:
        self.base = url.rstrip("/") + "/api/public/v2/prompts"
        self.http = urllib3.PoolManager(
            headers=urllib3.make_headers(basic_auth=f"{public_key}:{secret_key}")
            | {"Accept": "application/json"},
            timeout=urllib3.Timeout(total=TIMEOUT_SECONDS),
            retries=urllib3.Retry(
                total=2, backoff_factor=0.5, status_forcelist=(429, 502, 503, 504)
            ),
        )

    def get(self, url: str, fields: dict) -> Any:
        try:
            response = self.http.request("GET", url, fields=fields)
        except urllib3.exceptions.HTTPError as exc:
            raise SourceError(f"GET {url}: {exc}") from exc
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        if response.status != 200:
            detail = body.get("message") if isinstance(body, dict) else None
            raise SourceError(f"GET {url} answered {response.status}: {detail or 'no detail'}")
        if body is None:
            raise SourceError(f"GET {url} did not answer JSON.")
        return body

    def names(self, page_size: int = PAGE_SIZE) -> list[tuple[str, list[int]]]:
        """(name, version numbers) of every prompt, page by page; SourceError when a page is
        not a prompt list as Langfuse answers it."""
        found = []
        for page in range(1, MAX_PAGES + 1):
            body = self.get(self.base, {"page": page, "limit": page_size})
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise SourceError(f"GET {self.base} did not answer a prompt list (data, meta).")
            found += [_listed(item, f"GET {self.base} page {page}") for item in body["data"]]
            if not body["data"] or page >= _total_pages(body, f"GET {self.base} page {page}"):
                return found
        return found

    def version(self, name: str, number: int) -> Any:
        return self.get(f"{self.base}/{quote(name, safe='')}", {"version": number})


def read_api(
    url: str, public_key: str, secret_key: str, *, page_size: int = PAGE_SIZE
) -> list[SourcePrompt]:
    """Every prompt of the instance with every version, fetched by number. The list must
    answer (else SourceError); a version that does not is a problem of its prompt only."""
    client = LangfuseClient(url, public_key, secret_key)
    prompts = []
    for name, numbers in client.names(page_size):
        entries, problems = [], []
        for number in numbers:
            try:
                entries.append(client.version(name, number))
            except SourceError as exc:
                problems.append(str(exc))
        grouped = {prompt.name: prompt for prompt in group_versions(entries)}
        prompt = grouped.pop(name, None) or SourcePrompt(name=name)
        problems += [f"GET answered a row of {other!r}" for other in sorted(grouped)]
        prompt.problems = problems + prompt.problems
        if not numbers:
            prompt.problems.append("the list gives no versions")
        prompts.append(prompt)
    return sorted(prompts, key=lambda prompt: prompt.name)
