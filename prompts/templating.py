"""Template syntax: which placeholders a template uses.

One module knows the two template formats so that validation (and later rendering) agree.
`mustache` here is deliberately small: `{{name}}` substitution only, no sections, no code.
"""

import re
from collections.abc import Iterable

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from portal.errors import Invalid

MUSTACHE = "mustache"
JINJA2 = "jinja2"
TEMPLATE_FORMATS = (MUSTACHE, JINJA2)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MUSTACHE_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def mustache_placeholders(source: str) -> set[str]:
    """Names used as `{{name}}`; anything else between braces is a syntax error."""
    names: set[str] = set()
    for match in _MUSTACHE_TAG.finditer(source):
        inner = match.group(1)
        name = inner.strip()
        if inner.startswith("{") or not IDENTIFIER.match(name):
            raise Invalid.field(
                "template",
                f"Invalid placeholder {match.group(0)!r}: mustache templates only allow "
                "{{name}} with a name made of letters, digits and underscores.",
                code="template_syntax",
            )
        names.add(name)
    remainder = _MUSTACHE_TAG.sub("", source)
    if "{{" in remainder:
        raise Invalid.field("template", "Unclosed '{{' in the template.", code="template_syntax")
    return names


_jinja = SandboxedEnvironment(autoescape=False)


def jinja2_placeholders(source: str) -> set[str]:
    try:
        ast = _jinja.parse(source)
    except TemplateSyntaxError as exc:
        raise Invalid.field(
            "template",
            f"Jinja2 syntax error on line {exc.lineno}: {exc.message}",
            code="template_syntax",
        ) from exc
    return set(meta.find_undeclared_variables(ast))


def placeholders(template_format: str, sources: Iterable[str]) -> set[str]:
    """Every variable the given sources (a template, or each chat message) refer to."""
    extract = {MUSTACHE: mustache_placeholders, JINJA2: jinja2_placeholders}.get(template_format)
    if extract is None:
        raise Invalid.field(
            "template_format",
            f"Unknown template format {template_format!r}; "
            f"use one of {', '.join(TEMPLATE_FORMATS)}.",
        )
    used: set[str] = set()
    for source in sources:
        used |= extract(source)
    return used
