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
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, TemplateError, TemplateNotFound, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from portal.errors import ErrorCode, Invalid
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
    def replace(match) -> str:
        kind, value = parse_mustache_tag(match.group(1))
        if kind == "include":
            return _render(source.includes[value], variables, depth + 1)
        return _mustache_value(variables[value])

    rendered = MUSTACHE_TAG.sub(replace, source.template)
    if len(rendered) > MAX_OUTPUT_CHARS:
        raise _render_error(
            f"The output exceeds {MAX_OUTPUT_CHARS} characters.", ErrorCode.TOO_LARGE
        )
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


MAX_INT_BITS = 100_000
_BIG_WIDTH = re.compile(r"(\*|\d{6,})")


def _refuse(message: str) -> None:
    raise SecurityError(message)


def _check_size(size: int) -> None:
    if size > MAX_OUTPUT_CHARS:
        _refuse(f"That would produce more than {MAX_OUTPUT_CHARS} characters.")


def _check_width(width: Any) -> None:
    if isinstance(width, int) and width > MAX_OUTPUT_CHARS:
        _refuse(f"Widths above {MAX_OUTPUT_CHARS} are not allowed.")


def _check_format_string(text: Any) -> None:
    """Refuse %-style or {}-style width/precision of six digits or from arguments (`*`)."""
    if isinstance(text, str):
        for spec in re.findall(r"%[-#0 +]*[\d*]*(?:\.[\d*]+)?|\{[^{}]*:[^{}]*\}", text):
            if _BIG_WIDTH.search(spec):
                _refuse("Format widths of six digits or more are not allowed.")


def _checked_join(sequence: Any, separator: str = "") -> list:
    items = [str(item) for item in sequence]
    _check_size(sum(map(len, items)) + len(separator) * max(0, len(items) - 1))
    return items


def _check_replace(text: str, old: Any, new: Any, count: int = -1) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = text.count(old) if old else len(text) + 1
        if count >= 0:
            hits = min(hits, count)
        _check_size(len(text) + hits * max(0, len(new) - len(old)))


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, plus limits on what can allocate a lot in one step: big integer
    arithmetic, repetition, wide padding and formatting, joins and replacements."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        filters = self.filters
        center, indent, join, replace, format_ = (
            filters["center"],
            filters["indent"],
            filters["join"],
            filters["replace"],
            filters["format"],
        )

        def safe_center(value, width=80):
            _check_width(width)
            return center(value, width)

        def safe_indent(value, width=4, *args, **kwargs):
            _check_width(width if isinstance(width, int) else len(str(width)))
            _check_size(len(str(value)) * (1 + (width if isinstance(width, int) else 1)))
            return indent(value, width, *args, **kwargs)

        def safe_join(eval_ctx, value, d="", attribute=None):
            if attribute is None:
                _checked_join(value, str(d))
            return join(eval_ctx, value, d, attribute)

        def safe_replace(eval_ctx, value, old, new, count=None):
            _check_replace(str(value), str(old), str(new), -1 if count is None else count)
            return replace(eval_ctx, value, old, new, count)

        def safe_format(value, *args, **kwargs):
            _check_format_string(value)
            return format_(value, *args, **kwargs)

        safe_join.jinja_pass_arg = join.jinja_pass_arg
        safe_replace.jinja_pass_arg = replace.jinja_pass_arg
        filters.update(
            center=safe_center,
            indent=safe_indent,
            join=safe_join,
            replace=safe_replace,
            format=safe_format,
        )
        self.globals.pop("lipsum", None)

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        ints = isinstance(left, int) and isinstance(right, int)
        too_big_power = (
            operator == "**"
            and ints
            and right > 0
            and max(abs(left).bit_length(), 1) * right > MAX_INT_BITS
        )
        if too_big_power:
            _refuse("That power is too large.")
        if operator == "*":
            if ints and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                _refuse("That product is too large.")
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(count, int):
                    if count > MAX_SEQUENCE_REPEAT:
                        _refuse("That repetition would be too large.")
                    _check_size(len(sequence) * count)
        if operator == "%":
            _check_format_string(left)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Any:
        if getattr(value, "__name__", "") in {"format", "format_map"}:
            _check_format_string(getattr(value, "__self__", None))
        return super().wrap_str_format(value)

    def call(__self, __context, __obj, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            if name in {"center", "ljust", "rjust", "zfill"} and args:
                _check_width(args[0])
            elif name == "expandtabs":
                _check_size(len(owner) * (args[0] if args and isinstance(args[0], int) else 8))
            elif name == "replace" and len(args) >= 2:
                _check_replace(owner, *args[:3])
            elif name == "join" and args:
                args = (_checked_join(args[0], owner), *args[1:])
            elif name in {"format", "format_map"}:
                _check_format_string(owner)
        return super().call(__context, __obj, *args, **kwargs)


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
    try:
        with _time_limit(MAX_SECONDS):
            template = environment.from_string(source.template)
            chunks, size = [], 0
            for chunk in template.generate(**variables):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise _render_error(
                        f"The output exceeds {MAX_OUTPUT_CHARS} characters.", ErrorCode.TOO_LARGE
                    )
                chunks.append(chunk)
    except _Timeout as exc:
        raise _render_error(
            f"Rendering took longer than {MAX_SECONDS} s.", ErrorCode.TOO_SLOW
        ) from exc
    except UndefinedError as exc:
        raise _render_error(
            f"Undefined in the template: {exc.message}.", ErrorCode.UNDEFINED
        ) from exc
    except SecurityError as exc:
        raise _render_error(f"Refused by the sandbox: {exc}", ErrorCode.SANDBOX) from exc
    except TemplateError as exc:
        raise _render_error(f"The template failed: {exc.message or exc}.") from exc
    except RecursionError as exc:
        raise _render_error("The template recurses too deeply.") from exc
    except MemoryError as exc:
        raise _render_error("The template needs too much memory.", ErrorCode.TOO_LARGE) from exc
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
