"""Rendering a resolved prompt in the client, exactly as the portal renders it.

`render(body, variables)` takes the body of a resolve answer (`kind`, `template` or
`messages`, `template_format`, `required_variables`, `includes`) and gives the text of a text
prompt, or the chat messages (`role`, `content`) with their contents rendered. The contract:

- For every input the portal accepts, the output is the portal's, character for character.
  The variables must be exactly `required_variables` (missing and unknown names are both
  refused, in the portal's words), and are taken as the JSON values the portal would receive:
  a value JSON cannot carry (NaN, a set, a datetime…) is refused here as the portal would
  refuse the request.
- mustache: `{{name}}` is replaced by its value in one pass (strings verbatim, so a value
  containing `{{x}}` stays literally `{{x}}`; None as nothing; booleans as true/false; numbers
  as Python writes them; lists and objects as sorted-key JSON), `{{> ns/name}}` by the included
  prompt's text rendered with the same variables (once per render, however often used).
- jinja2: Jinja's SandboxedEnvironment with StrictUndefined, autoescape off and no `lipsum`,
  includes by literal name from the answer's jinja2 includes only; each render gets its own
  copy of the variables, as the portal's worker process does.
- The portal's limits hold here too (200,000 output characters, 50,000 placeholders, 8 levels
  of includes, 10 jinja2 renders per call), and whatever the portal refuses with a 422 raises
  `RenderError` with the portal's message. The portal's CPU, memory and time limits on jinja2
  are not reproduced: the client trusts its portal's templates, checked at version creation.

Templates are compiled once per distinct (text, includes) and kept in a small LRU cache.
"""

import json
import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import (
    BaseLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    UndefinedError,
)
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from promptportal.errors import RenderError

__all__ = ["render"]

JINJA2 = "jinja2"
CHAT = "chat"
MAX_OUTPUT_CHARS = 200_000
MAX_INCLUDE_DEPTH = 8
MAX_TAGS_PER_RENDER = 50_000
MAX_JINJA_RENDERS = 10
MAX_NAMED = 20
MAX_NAME_CHARS = 64
MAX_MESSAGE_CHARS = 300
MAX_SHOWN_TAG = 60
CACHE_SIZE = 512

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
INCLUDE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,62}/[a-z][a-z0-9-]{1,62}$")
TOO_LARGE = f"The output exceeds {MAX_OUTPUT_CHARS} characters."

# A parsed mustache text: (literal before the tag, is it an include, name) per tag, and the tail.
Mustache = tuple[tuple[tuple[str, bool, str], ...], str]
Compiled = Mustache | Template


def render(body: Mapping[str, Any], variables: Mapping[str, Any]) -> str | list[dict[str, str]]:
    """The prompt of a resolve answer `body` with `variables` filled in: the text of a text
    prompt, or the chat messages with rendered contents. Raises RenderError."""
    prompt = _compiled(_key(body))
    if not isinstance(variables, Mapping):
        raise RenderError("Variables must be a JSON object of name → value.")
    if variables.keys() != prompt.required:
        _refuse_mismatch(prompt.required, variables)
    if prompt.refusal is not None:
        raise RenderError(prompt.refusal)
    texts = _Render(prompt, variables).all()
    if prompt.roles is None:
        return texts[0]
    return [{"role": role, "content": text} for role, text in zip(prompt.roles, texts, strict=True)]


def _key(body: Mapping[str, Any]) -> tuple:
    """Everything rendering depends on, hashable: the cache key of the compiled prompt."""
    try:
        includes = body["includes"]
        if body["kind"] == CHAT:
            texts: Any = tuple((m["role"], m["content"]) for m in body["messages"])
        else:
            texts = body["template"]
        return (
            body["kind"] == CHAT,
            body["template_format"],
            texts,
            tuple(body["required_variables"]),
            tuple((n, i["template_format"], i["template"]) for n, i in includes.items())
            if includes
            else (),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise RenderError(f"Not a resolve answer's body: {exc!r}.") from exc


def _names(names: list[str]) -> str:
    shown = [n if len(n) <= MAX_NAME_CHARS else n[:MAX_NAME_CHARS] + "…" for n in names[:MAX_NAMED]]
    more = len(names) - MAX_NAMED
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _refuse_mismatch(required: frozenset[str], given: Iterable[Any]) -> None:
    given = {name if isinstance(name, str) else repr(name) for name in given}
    missing, unknown = sorted(required - given), sorted(given - required)
    problems = [f"missing: {_names(missing)}"] if missing else []
    problems += [f"unknown: {_names(unknown)}"] if unknown else []
    raise RenderError("The variables do not match the prompt's: " + "; ".join(problems) + ".")


def _short(text: object) -> str:
    text = str(text)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"


# --- Compiling --------------------------------------------------------------------------------


def _tag(inner: str) -> tuple[bool, str]:
    """(is an include, name) of the text between a tag's braces, as the portal reads it."""
    stripped = inner.strip()
    shown = inner if len(inner) <= MAX_SHOWN_TAG else inner[:MAX_SHOWN_TAG] + "…"
    if stripped.startswith(">"):
        name = stripped[1:].strip()
        if not INCLUDE_NAME.match(name):
            raise RenderError(
                f"Invalid include {{{{{shown}}}}}: write {{{{> namespace/prompt-name}}}}."
            )
        return True, name
    if inner.startswith("{") or not IDENTIFIER.match(stripped):
        raise RenderError(
            f"Invalid placeholder {{{{{shown}}}}}: mustache templates only allow {{{{name}}}} "
            "with a name made of letters, digits and underscores, and {{> namespace/name}}."
        )
    return False, stripped


def _mustache(template: str) -> Mustache:
    tags, position = [], 0
    while (start := template.find("{{", position)) != -1:
        end = template.find("}}", start + 2)
        if end == -1:
            raise RenderError("Unclosed '{{' in the template.")
        tags.append((template[position:start], *_tag(template[start + 2 : end])))
        position = end + 2
    return tuple(tags), template[position:]


class _Loader(BaseLoader):
    def __init__(self, includes: Mapping[str, str]) -> None:
        self.includes = includes

    def get_source(self, environment: Any, template: str) -> tuple[str, None, Any]:
        if template not in self.includes:
            raise TemplateNotFound(template)
        return self.includes[template], None, lambda: True


class _Prompt:
    """A compiled resolve answer; shared by every render of it (read-only once built)."""

    def __init__(self, key: tuple) -> None:
        chat, template_format, texts, required, includes = key
        self.required = frozenset(required)
        self.roles = tuple(role for role, _ in texts) if chat else None
        self.jinja = template_format == JINJA2
        self.includes = {name: (fmt == JINJA2, text) for name, fmt, text in includes}
        self.environment = SandboxedEnvironment(
            undefined=StrictUndefined,
            autoescape=False,
            loader=_Loader({n: t for n, (jinja, t) in self.includes.items() if jinja}),
        )
        self.environment.globals.pop("lipsum", None)
        self.compiled_includes: dict[str, Compiled] = {}
        sources = [content for _, content in texts] if chat else [texts]
        # A text that does not compile is refused when rendered, after the variables' check,
        # as in the portal.
        self.refusal: str | None = None
        try:
            self.texts = [self.compile(self.jinja, source) for source in sources]
        except RenderError as exc:
            self.texts, self.refusal = [], str(exc)

    def compile(self, jinja: bool, source: str) -> Compiled:
        if not jinja:
            return _mustache(source)
        try:
            return self.environment.from_string(source)
        except Exception as exc:
            raise _jinja_failure(exc) from exc

    def included(self, name: str) -> tuple[bool, Compiled]:
        if name not in self.includes:
            raise RenderError(f"The prompt includes {name}, which the answer does not carry.")
        jinja, source = self.includes[name]
        if name not in self.compiled_includes:
            self.compiled_includes[name] = self.compile(jinja, source)
        return jinja, self.compiled_includes[name]


@lru_cache(maxsize=CACHE_SIZE)
def _compiled(key: tuple) -> _Prompt:
    return _Prompt(key)


# --- Rendering --------------------------------------------------------------------------------


def _jinja_failure(exc: BaseException) -> RenderError:
    """The portal's words for a jinja2 failure (prompts.sandbox's render job)."""
    if isinstance(exc, UndefinedError):
        return RenderError(f"Undefined in the template: {_short(exc.message)}.")
    if isinstance(exc, SecurityError):
        return RenderError(f"Refused by the sandbox: {_short(exc)}")
    if isinstance(exc, MemoryError):
        return RenderError("The template needs more memory than the sandbox allows.")
    if isinstance(exc, RecursionError):
        return RenderError("The template recurses too deeply.")
    if isinstance(exc, TemplateError):
        return RenderError(f"The template failed: {_short(exc.message or exc)}.")
    return RenderError(f"The template failed: {type(exc).__name__}: {_short(exc)}.")


def _json_copy(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The variables as the portal's worker receives them: JSON values, a copy of their own."""
    try:
        return json.loads(json.dumps(dict(variables), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise RenderError(f"The variables must be JSON values: {_short(exc)}.") from exc


def _value(value: Any) -> str:
    """A mustache value's text: the portal's `_mustache_value`, JSON values only."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)  # JSON's text of it, also for an IntEnum
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON number")
        return float.__repr__(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)


class _Render:
    """One render call: the budgets (placeholders, jinja2 renders) are shared by all its texts
    and includes, and each include is rendered once (the variables are the same everywhere)."""

    __slots__ = ("included", "jobs_left", "prompt", "tags_left", "variables")

    def __init__(self, prompt: _Prompt, variables: Mapping[str, Any]) -> None:
        self.prompt = prompt
        self.variables = variables
        self.included: dict[str, str] = {}
        self.tags_left = MAX_TAGS_PER_RENDER
        self.jobs_left = MAX_JINJA_RENDERS

    def all(self) -> list[str]:
        prompt = self.prompt
        if prompt.jinja and prompt.texts:
            texts = self.jinja(prompt.texts)  # the portal renders them in one sandbox job
        else:
            texts = [self.mustache(text, 0) for text in prompt.texts]
        if sum(map(len, texts)) > MAX_OUTPUT_CHARS:
            raise RenderError(TOO_LARGE)
        return texts

    def include(self, name: str, depth: int) -> str:
        if name not in self.included:
            if depth > MAX_INCLUDE_DEPTH:
                raise RenderError("Includes nest too deeply.")
            jinja, compiled = self.prompt.included(name)
            if jinja:
                (self.included[name],) = self.jinja([compiled])
            else:
                self.included[name] = self.mustache(compiled, depth)
        return self.included[name]

    def mustache(self, compiled: Mustache, depth: int) -> str:
        tags, tail = compiled
        pieces, size = [], 0
        for literal, is_include, name in tags:
            self.tags_left -= 1
            if self.tags_left < 0:
                raise RenderError(f"The prompt fills more than {MAX_TAGS_PER_RENDER} placeholders.")
            filled = self.include(name, depth + 1) if is_include else self.value(name)
            pieces += (literal, filled)
            size += len(literal) + len(filled)
            if size > MAX_OUTPUT_CHARS:
                raise RenderError(TOO_LARGE)
        if size + len(tail) > MAX_OUTPUT_CHARS:
            raise RenderError(TOO_LARGE)
        pieces.append(tail)
        return "".join(pieces)

    def value(self, name: str) -> str:
        try:
            return _value(self.variables[name])
        except KeyError as exc:
            message = f"The template uses {name}, which the prompt does not declare."
            raise RenderError(message) from exc
        except (TypeError, ValueError) as exc:
            raise RenderError(f"The variables must be JSON values: {_short(exc)}.") from exc

    def jinja(self, templates: list[Template]) -> list[str]:
        """Like one job of the portal's sandbox: one copy of the variables, one output cap."""
        self.jobs_left -= 1
        if self.jobs_left < 0:
            raise RenderError(
                f"The prompt needs more than {MAX_JINJA_RENDERS} jinja2 renders "
                "(distinct jinja2 prompts it includes)."
            )
        variables = _json_copy(self.variables)
        texts, size = [], 0
        try:
            for template in templates:
                chunks = []
                for chunk in template.generate(**variables):
                    size += len(chunk)
                    if size > MAX_OUTPUT_CHARS:
                        raise RenderError(TOO_LARGE)
                    chunks.append(chunk)
                texts.append("".join(chunks))
        except RenderError:
            raise
        except Exception as exc:
            raise _jinja_failure(exc) from exc
        return texts
