"""Rendering a version with variables: one module for the API, the portal preview and (later)
the evaluation runner.

- mustache: `{{name}}` is replaced by the value in one pass; values are never re-read as
  template text, so a value containing `{{x}}` stays literally `{{x}}`.
- jinja2: Jinja's SandboxedEnvironment with StrictUndefined, only the given variables in
  scope, a time limit (checked on every executed template line) and an output-size limit.
Includes (`{{> ns/name}}`, `{% include "ns/name" %}`) render the included text prompts with the
same variables.
"""

import json
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, TemplateError, TemplateNotFound, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from portal.errors import Invalid
from prompts.templating import JINJA2, MUSTACHE_TAG, parse_mustache_tag

MAX_OUTPUT_CHARS = 200_000
MAX_SECONDS = 1.0
MAX_SEQUENCE_REPEAT = 10_000


class Source:
    """A text to render: its format, its template, and the prompts it may include by name."""

    def __init__(self, *, template_format: str, template: str, includes: Mapping[str, "Source"]):
        self.template_format = template_format
        self.template = template
        self.includes = includes


def _render_error(message: str, code: str = "render_error") -> Invalid:
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
            code="variables_mismatch",
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
    def replace(match) -> str:
        kind, value = parse_mustache_tag(match.group(1))
        if kind == "include":
            return _render(source.includes[value], variables, depth + 1)
        return _mustache_value(variables[value])

    rendered = MUSTACHE_TAG.sub(replace, source.template)
    if len(rendered) > MAX_OUTPUT_CHARS:
        raise _render_error(f"The output exceeds {MAX_OUTPUT_CHARS} characters.", "too_large")
    return rendered


class _Timeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Abort the running template once `seconds` have passed: a line tracer, so it works in any
    thread and stops loops that produce no output."""
    deadline = time.monotonic() + seconds
    previous = sys.gettrace()

    def tracer(frame, event, arg):
        if time.monotonic() > deadline:
            raise _Timeout
        return tracer

    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 100:
            raise SecurityError("Exponents above 100 are not allowed.")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                too_large = (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(count, int)
                    and (len(sequence) * count > MAX_OUTPUT_CHARS or count > MAX_SEQUENCE_REPEAT)
                )
                if too_large:
                    raise SecurityError("That repetition would be too large.")
        return super().call_binop(context, operator, left, right)


class _IncludeLoader(BaseLoader):
    def __init__(self, includes: Mapping[str, Source]) -> None:
        self.includes = includes

    def get_source(self, environment, template: str):
        included = self.includes.get(template)
        if included is None:
            raise TemplateNotFound(template)
        if included.template_format != JINJA2:
            raise TemplateNotFound(f"{template} (a mustache prompt cannot be included by jinja2)")
        return included.template, None, lambda: True


def _render_jinja(source: Source, variables: Mapping[str, Any]) -> str:
    environment = _Sandbox(
        undefined=StrictUndefined, autoescape=False, loader=_IncludeLoader(source.includes)
    )
    environment.globals.pop("lipsum", None)
    try:
        with _time_limit(MAX_SECONDS):
            template = environment.from_string(source.template)
            chunks, size = [], 0
            for chunk in template.generate(**variables):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise _render_error(
                        f"The output exceeds {MAX_OUTPUT_CHARS} characters.", "too_large"
                    )
                chunks.append(chunk)
    except _Timeout as exc:
        raise _render_error(f"Rendering took longer than {MAX_SECONDS} s.", "too_slow") from exc
    except UndefinedError as exc:
        raise _render_error(f"Undefined in the template: {exc.message}.", "undefined") from exc
    except SecurityError as exc:
        raise _render_error(f"Refused by the sandbox: {exc}", "sandbox") from exc
    except TemplateError as exc:
        raise _render_error(f"The template failed: {exc.message or exc}.") from exc
    except RecursionError as exc:
        raise _render_error("The template recurses too deeply.") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise _render_error(f"The template failed: {type(exc).__name__}: {exc}.") from exc
    return "".join(chunks)


def _render(source: Source, variables: Mapping[str, Any], depth: int = 0) -> str:
    if depth > 8:
        raise _render_error("Includes nest too deeply.")
    if source.template_format == JINJA2:
        return _render_jinja(source, variables)
    return _render_mustache(source, variables, depth)


def render(source: Source, variables: Mapping[str, Any]) -> str:
    """Render one text (a template, or one chat message's content)."""
    return _render(source, variables)
