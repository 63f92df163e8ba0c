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


class Source:
    """A text to render: its format, its template, and the prompts it may include by name."""

    def __init__(self, *, template_format: str, template: str, includes: Mapping[str, "Source"]):
        self.template_format = template_format
        self.template = template
        self.includes = includes


def _render_error(message: str, code: ErrorCode = ErrorCode.RENDER_ERROR) -> Invalid:
    return Invalid(message, errors={"variables": [message]}, code=code)


def check_variables(*, declared: set[str], given: Mapping[str, Any]) -> None:
    missing, unknown = sorted(declared - set(given)), sorted(set(given) - declared)
    problems = []
    if missing:
        problems.append(f"missing: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown: {', '.join(unknown)}")
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


def _render_mustache(source: Source, variables: Mapping[str, Any], depth: int) -> str:
    pieces, position, size = [], 0, 0
    template = source.template
    for start, end, inner in mustache_tags(template):
        kind, value = parse_mustache_tag(inner)
        if kind == "include":
            filled = _render(source.includes[value], variables, depth + 1)
        else:
            filled = _mustache_value(variables[value])
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


def _render_jinja(source: Source, variables: Mapping[str, Any]) -> str:
    includes = {
        name: included.template
        for name, included in source.includes.items()
        if included.template_format == JINJA2
    }
    try:
        return sandbox(limits()).render(source.template, includes, dict(variables))
    except Refused as exc:
        raise _render_error(exc.message, ErrorCode(exc.code)) from exc


def _render(source: Source, variables: Mapping[str, Any], depth: int = 0) -> str:
    if depth > MAX_INCLUDE_DEPTH:
        raise _render_error("Includes nest too deeply.")
    if source.template_format == JINJA2:
        return _render_jinja(source, variables)
    return _render_mustache(source, variables, depth)


def render(source: Source, variables: Mapping[str, Any]) -> str:
    """Render one text (a template, or one chat message's content)."""
    return _render(source, variables)
