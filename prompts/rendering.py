"""Rendering a version with variables: one module for the API, the portal preview and (later)
the evaluation runner.

- mustache: `{{name}}` is replaced by the value in one linear pass; values are never re-read
  as template text, so a value containing `{{x}}` stays literally `{{x}}`.
- jinja2: Jinja's SandboxedEnvironment with StrictUndefined and only the given variables in
  scope, run in a worker process with hard memory, CPU and time limits (prompts.sandbox).
Includes (`{{> ns/name}}`, `{% include "ns/name" %}`) render the included text prompts with the
same variables.
"""

import json
from collections.abc import Mapping
from typing import Any

from portal.errors import ErrorCode, Invalid
from prompts.sandbox import Refused, sandbox
from prompts.templating import (
    JINJA2,
    MAX_OUTPUT_CHARS,
    limits,
    mustache_tags,
    parse_mustache_tag,
)

MAX_INCLUDE_DEPTH = 8
# Placeholders (and includes) one render may fill, all includes counted once.
MAX_TAGS_PER_RENDER = 50_000
# Sandbox jobs one render may take: the prompt's own jinja2 texts are one job, and each
# distinct jinja2 prompt that a mustache text includes is one more.
MAX_SANDBOX_JOBS_PER_RENDER = 10


class Source:
    """A text to render: its format, its template, and the prompts it may include by name."""

    def __init__(self, *, template_format: str, template: str, includes: Mapping[str, "Source"]):
        self.template_format = template_format
        self.template = template
        self.includes = includes


def _render_error(message: str, code: ErrorCode = ErrorCode.RENDER_ERROR) -> Invalid:
    return Invalid(message, errors={"variables": [message]}, code=code)


MAX_NAMED = 20
MAX_NAME_CHARS = 64


def _names(names: list[str]) -> str:
    """At most MAX_NAMED names, each cut to MAX_NAME_CHARS: a caller's typo list, not an echo."""
    shown = [n if len(n) <= MAX_NAME_CHARS else n[:MAX_NAME_CHARS] + "…" for n in names[:MAX_NAMED]]
    more = len(names) - MAX_NAMED
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def check_variables(*, declared: set[str], given: Mapping[str, Any]) -> None:
    missing, unknown = sorted(declared - set(given)), sorted(set(given) - declared)
    problems = []
    if missing:
        problems.append(f"missing: {_names(missing)}")
    if unknown:
        problems.append(f"unknown: {_names(unknown)}")
    if problems:
        raise Invalid(
            "The variables do not match the prompt's: " + "; ".join(problems) + ".",
            errors={"variables": problems},
            code=ErrorCode.VARIABLES_MISMATCH,
        )


def _mustache_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class _Render:
    """One render call: the variables, each include's text once rendered (the variables are
    the same everywhere, so is its text), and budgets shared by everything the call renders
    (placeholders filled, sandbox jobs), so includes used many times, or many messages,
    cannot multiply the work."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.variables = variables
        self.included: dict[str, str] = {}
        self.tags_left = MAX_TAGS_PER_RENDER
        self.jobs_left = MAX_SANDBOX_JOBS_PER_RENDER

    def all(self, sources: list[Source]) -> list[str]:
        if sources and all(s.template_format == JINJA2 for s in sources):
            texts = self._jinja_many(sources)  # a chat prompt's messages: one sandbox job
        else:
            texts = [self.text(source) for source in sources]
        if sum(map(len, texts)) > MAX_OUTPUT_CHARS:
            raise _render_error(
                f"The output exceeds {MAX_OUTPUT_CHARS} characters.", ErrorCode.TOO_LARGE
            )
        return texts

    def text(self, source: Source, depth: int = 0) -> str:
        if depth > MAX_INCLUDE_DEPTH:
            raise _render_error("Includes nest too deeply.")
        if source.template_format == JINJA2:
            return self._jinja(source)
        return self._mustache(source, depth)

    def _include(self, name: str, source: Source, depth: int) -> str:
        if name not in self.included:
            self.included[name] = self.text(source, depth)
        return self.included[name]

    def _mustache(self, source: Source, depth: int) -> str:
        pieces, position, size = [], 0, 0
        template = source.template
        for start, end, inner in mustache_tags(template):
            self.tags_left -= 1
            if self.tags_left < 0:
                raise _render_error(
                    f"The prompt fills more than {MAX_TAGS_PER_RENDER} placeholders.",
                    ErrorCode.TOO_LARGE,
                )
            kind, value = parse_mustache_tag(inner)
            if kind == "include":
                filled = self._include(value, source.includes[value], depth + 1)
            else:
                filled = _mustache_value(self.variables[value])
            pieces += (template[position:start], filled)
            size += start - position + len(filled)
            position = end
            if size > MAX_OUTPUT_CHARS:
                break
        pieces.append(template[position:])
        rendered = "".join(pieces)
        if len(rendered) > MAX_OUTPUT_CHARS:
            raise _render_error(
                f"The output exceeds {MAX_OUTPUT_CHARS} characters.", ErrorCode.TOO_LARGE
            )
        return rendered

    def _jinja(self, source: Source) -> str:
        (text,) = self._jinja_many([source])
        return text

    def _jinja_many(self, sources: list[Source]) -> list[str]:
        self.jobs_left -= 1
        if self.jobs_left < 0:
            raise _render_error(
                f"The prompt needs more than {MAX_SANDBOX_JOBS_PER_RENDER} jinja2 renders "
                "(distinct jinja2 prompts it includes).",
                ErrorCode.TOO_LARGE,
            )
        includes = {
            name: included.template
            for name, included in sources[0].includes.items()
            if included.template_format == JINJA2
        }
        try:
            return sandbox(limits()).render_many(
                [source.template for source in sources], includes, dict(self.variables)
            )
        except Refused as exc:
            raise _render_error(exc.message, ErrorCode(exc.code)) from exc


def render_all(sources: list[Source], variables: Mapping[str, Any]) -> list[str]:
    """Render several texts of one prompt (a template, or each chat message's content) in one
    call: includes are rendered once and the placeholder budget is shared."""
    return _Render(variables).all(sources)


def render(source: Source, variables: Mapping[str, Any]) -> str:
    """Render one text (a template, or one chat message's content)."""
    (text,) = _Render(variables).all([source])
    return text
