"""Template syntax: which placeholders and includes a template uses.

One module knows the two template formats, so validation, rendering and the portal agree.
`mustache` is deliberately small: `{{name}}` substitution and `{{> namespace/name}}` includes,
no sections, no code; its tags are found in one linear scan. `jinja2` is parsed, checked and
compiled in the sandbox's worker processes (prompts.sandbox), exactly as a render would, so a
template the sandbox would refuse is refused when the version is created.
"""

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from django.conf import settings

from portal.errors import ErrorCode, Invalid
from prompts.sandbox import SANDBOX as SANDBOX_BREACH
from prompts.sandbox import Limits, Refused, sandbox

MUSTACHE = "mustache"
JINJA2 = "jinja2"
TEMPLATE_FORMATS = (MUSTACHE, JINJA2)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
INCLUDE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,62}/[a-z][a-z0-9-]{1,62}$")
# Rendered output is capped at this many characters (jinja2 and mustache alike).
MAX_OUTPUT_CHARS = 200_000
MAX_SHOWN_TAG = 60


def _syntax_error(message: str) -> Invalid:
    return Invalid.field("template", message, code=ErrorCode.TEMPLATE_SYNTAX)


def limits() -> Limits:
    """The jinja2 sandbox's limits, from settings (RENDER_*)."""
    return Limits(
        memory_mb=settings.RENDER_MEMORY_MB,
        cpu_seconds=settings.RENDER_CPU_SECONDS,
        wall_seconds=settings.RENDER_TIME_LIMIT,
        workers=settings.RENDER_WORKERS,
        max_output_chars=MAX_OUTPUT_CHARS,
    )


def parse_mustache_tag(inner: str) -> tuple[str, str]:
    """('include', 'ns/name') or ('variable', 'name') for the text between the braces."""
    stripped = inner.strip()
    shown = inner if len(inner) <= MAX_SHOWN_TAG else inner[:MAX_SHOWN_TAG] + "…"
    if stripped.startswith(">"):
        name = stripped[1:].strip()
        if not INCLUDE_NAME.match(name):
            raise _syntax_error(
                f"Invalid include {{{{{shown}}}}}: write {{{{> namespace/prompt-name}}}}."
            )
        return "include", name
    if inner.startswith("{") or not IDENTIFIER.match(stripped):
        raise _syntax_error(
            f"Invalid placeholder {{{{{shown}}}}}: mustache templates only allow {{{{name}}}} "
            "with a name made of letters, digits and underscores, and {{> namespace/name}}."
        )
    return "variable", stripped


def mustache_tags(source: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, inner text) of each `{{…}}` tag, left to right. One pass: each search
    starts where the last one ended, so the scan is linear in the template's length."""
    position = 0
    while (start := source.find("{{", position)) != -1:
        end = source.find("}}", start + 2)
        if end == -1:
            raise _syntax_error("Unclosed '{{' in the template.")
        yield start, end + 2, source[start + 2 : end]
        position = end + 2


def _mustache_tags(source: str) -> list[tuple[str, str]]:
    return [parse_mustache_tag(inner) for _, _, inner in mustache_tags(source)]


@lru_cache(maxsize=128)
def _checked_in_sandbox(source: str) -> tuple:
    """("ok", variables, includes) or ("refused", code, message): a template's refusal is
    remembered too, so resubmitting it costs no sandbox job. A breach of the sandbox's limits
    is raised instead (not remembered: it may be the machine's load, not the template)."""
    try:
        variables, referenced = sandbox(limits()).check(source)
    except Refused as exc:
        if exc.code == SANDBOX_BREACH:
            raise
        return ("refused", exc.code, exc.message)
    return ("ok", frozenset(variables), tuple(referenced))


def _jinja_analysis(source: str) -> tuple[frozenset[str], tuple[str | None, ...]]:
    """(variables used, includes named) of a jinja2 text, checked in the sandbox."""
    try:
        answer = _checked_in_sandbox(source)
    except Refused as exc:
        raise Invalid.field("template", exc.message, code=ErrorCode(exc.code)) from exc
    if answer[0] == "refused":
        raise Invalid.field("template", answer[2], code=ErrorCode(answer[1]))
    return answer[1], answer[2]


def placeholders(template_format: str, sources: Iterable[str]) -> set[str]:
    """Every variable the given sources (a template, or each chat message) refer to."""
    _check_format(template_format)
    used: set[str] = set()
    for source in sources:
        if template_format == MUSTACHE:
            used |= {value for kind, value in _mustache_tags(source) if kind == "variable"}
        else:
            used |= _jinja_analysis(source)[0]
    return used


def includes(template_format: str, sources: Iterable[str]) -> set[str]:
    """The `namespace/name` of every prompt the sources include."""
    _check_format(template_format)
    found: set[str] = set()
    for source in sources:
        if template_format == MUSTACHE:
            found |= {value for kind, value in _mustache_tags(source) if kind == "include"}
            continue
        for name in _jinja_analysis(source)[1]:
            if name is None or not INCLUDE_NAME.match(name):
                raise _syntax_error(
                    'Includes name a prompt literally: {% include "namespace/name" %}.'
                )
            found.add(name)
    return found


def _check_format(template_format: str) -> None:
    if template_format not in TEMPLATE_FORMATS:
        raise Invalid.field(
            "template_format",
            f"Unknown template format {template_format!r}; "
            f"use one of {', '.join(TEMPLATE_FORMATS)}.",
        )
