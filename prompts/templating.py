"""Template syntax: which placeholders and includes a template uses.

One module knows the two template formats, so validation, rendering and the portal agree.
`mustache` is deliberately small: `{{name}}` substitution and `{{> namespace/name}}` includes,
no sections, no code. `jinja2` runs sandboxed (see prompts.rendering).
"""

import re
from collections.abc import Iterable

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from portal.errors import ErrorCode, Invalid

MUSTACHE = "mustache"
JINJA2 = "jinja2"
TEMPLATE_FORMATS = (MUSTACHE, JINJA2)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
INCLUDE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,62}/[a-z][a-z0-9-]{1,62}$")
MUSTACHE_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def _syntax_error(message: str) -> Invalid:
    return Invalid.field("template", message, code=ErrorCode.TEMPLATE_SYNTAX)


def parse_mustache_tag(inner: str) -> tuple[str, str]:
    """('include', 'ns/name') or ('variable', 'name') for the text between the braces."""
    stripped = inner.strip()
    if stripped.startswith(">"):
        name = stripped[1:].strip()
        if not INCLUDE_NAME.match(name):
            raise _syntax_error(
                f"Invalid include {{{{{inner}}}}}: write {{{{> namespace/prompt-name}}}}."
            )
        return "include", name
    if inner.startswith("{") or not IDENTIFIER.match(stripped):
        raise _syntax_error(
            f"Invalid placeholder {{{{{inner}}}}}: mustache templates only allow {{{{name}}}} "
            "with a name made of letters, digits and underscores, and {{> namespace/name}}."
        )
    return "variable", stripped


def _mustache_tags(source: str) -> list[tuple[str, str]]:
    tags = [parse_mustache_tag(match.group(1)) for match in MUSTACHE_TAG.finditer(source)]
    if "{{" in MUSTACHE_TAG.sub("", source):
        raise _syntax_error("Unclosed '{{' in the template.")
    return tags


_jinja = SandboxedEnvironment(autoescape=False)


def _jinja_ast(source: str):
    try:
        return _jinja.parse(source)
    except TemplateSyntaxError as exc:
        raise _syntax_error(f"Jinja2 syntax error on line {exc.lineno}: {exc.message}") from exc


def placeholders(template_format: str, sources: Iterable[str]) -> set[str]:
    """Every variable the given sources (a template, or each chat message) refer to."""
    _check_format(template_format)
    used: set[str] = set()
    for source in sources:
        if template_format == MUSTACHE:
            used |= {value for kind, value in _mustache_tags(source) if kind == "variable"}
        else:
            used |= set(meta.find_undeclared_variables(_jinja_ast(source)))
    return used


def includes(template_format: str, sources: Iterable[str]) -> set[str]:
    """The `namespace/name` of every prompt the sources include."""
    _check_format(template_format)
    found: set[str] = set()
    for source in sources:
        if template_format == MUSTACHE:
            found |= {value for kind, value in _mustache_tags(source) if kind == "include"}
            continue
        for name in meta.find_referenced_templates(_jinja_ast(source)):
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
