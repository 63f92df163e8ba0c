"""The client renders a resolved prompt exactly as the portal does: same text, or the same
refusal in the same words. Templates and variables are generated; the portal's side is
`render_resolved` on the same body, given the variables as they arrive over the wire (JSON)."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from portal.errors import Invalid
from promptportal import rendering
from promptportal.errors import RenderError
from prompts.resolve import Resolved, render_resolved
from prompts.templating import placeholders

CLIENT = Path(__file__).resolve().parents[2] / "client"
NAMES = ["a", "b", "name", "x_1", "Zeta"]
ROLES = ["system", "user", "assistant"]
PARITY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def server(body: dict, variables) -> tuple[str, object]:
    wire = json.loads(json.dumps(variables))
    resolved = Resolved(body_json=json.dumps(body).encode(), etag='"e"', headers={})
    try:
        return "ok", render_resolved(resolved, wire)
    except Invalid as exc:
        return "refused", exc.detail


def client(body: dict, variables) -> tuple[str, object]:
    try:
        return "ok", rendering.render(body, variables)
    except RenderError as exc:
        return "refused", str(exc)


def body_of(
    *, template_format: str, texts: list[str], chat: bool, includes: dict, required: set
) -> dict:
    return {
        "prompt": "support/reply",
        "version": 1,
        "kind": "chat" if chat else "text",
        "template": None if chat else texts[0],
        "messages": [
            {"role": ROLES[i % len(ROLES)], "content": text} for i, text in enumerate(texts)
        ]
        if chat
        else None,
        "template_format": template_format,
        "required_variables": sorted(required),
        "includes": dict(sorted(includes.items())),
    }


def jinja_variables(template: str) -> set[str]:
    return set(meta.find_undeclared_variables(SandboxedEnvironment().parse(template)))


# --- Values ----------------------------------------------------------------------------------

texts = st.text(max_size=20) | st.sampled_from(
    ["{{x}}", "{{ name }}", "{{> lib/m-one}}", "{% if a %}", "ü漢字😀 ß", "", "  ", "\n"]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**53, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def values_for(draw, required: set[str]) -> dict:
    return {name: draw(json_values) for name in sorted(required)}


# --- mustache --------------------------------------------------------------------------------

spaces = st.sampled_from(["", " ", "  ", "\t", "\n "])
# Literal text never ends with "{" (that would make the next tag "{{{…", a template the portal
# refuses at creation); single braces and "}}" outside tags are plain text.
literals = st.text(alphabet=st.characters(blacklist_characters="{"), max_size=15) | st.sampled_from(
    ["}", "}}", "{ }", "a{b", "ü漢字😀", "\n\n", "{%", "#}"]
)
variable_tags = st.builds(
    lambda s1, n, s2: f"{{{{{s1}{n}{s2}}}}}", spaces, st.sampled_from(NAMES), spaces
)
MUSTACHE_INCLUDES = ["lib/m-one", "lib/m-two", "lib/m-three"]
JINJA_INCLUDE = "lib/j-one"


def include_tag(name: str) -> st.SearchStrategy[str]:
    return st.builds(lambda s1, s2, s3: f"{{{{{s1}>{s2}{name}{s3}}}}}", spaces, spaces, spaces)


def mustache_text(include_names: list[str]) -> st.SearchStrategy[str]:
    parts = literals | variable_tags
    for name in include_names:
        parts |= include_tag(name)
    return st.lists(parts, max_size=8).map("".join)


@st.composite
def mustache_bodies(draw) -> dict:
    """Includes form a chain-free DAG: each one may include those after it (and the jinja2
    one, rendered in the portal's sandbox); any of them may be shared by several texts."""
    includes: dict[str, dict] = {}
    can_include = [JINJA_INCLUDE] if draw(st.booleans()) else []
    if can_include:
        template = draw(
            st.sampled_from(
                [
                    "{{ a }}|{{ b | tojson }}",
                    "{% if name %}{{ name | string | upper }}{% endif %}\n",
                ]
            )
        )
        includes[JINJA_INCLUDE] = {"template": template, "template_format": "jinja2"}
    for name in reversed(MUSTACHE_INCLUDES[: draw(st.integers(0, 3))]):
        includes[name] = {
            "template": draw(mustache_text(can_include)),
            "template_format": "mustache",
        }
        can_include = [name, *can_include]
    chat = draw(st.booleans())
    sources = draw(st.lists(mustache_text(can_include), min_size=1, max_size=3 if chat else 1))
    required = placeholders("mustache", sources)
    for item in includes.values():
        if item["template_format"] == "mustache":
            required |= placeholders("mustache", [item["template"]])
        else:
            required |= jinja_variables(item["template"])
    for item in includes.values():
        item.update(version=1, sha256="0" * 64, variables=sorted(required))
    return body_of(
        template_format="mustache", texts=sources, chat=chat, includes=includes, required=required
    )


@settings(PARITY, max_examples=200)
@given(body=mustache_bodies(), data=st.data())
def test_mustache_renders_as_the_portal_renders(body, data):
    variables = data.draw(values_for(set(body["required_variables"])))

    answer = client(body, variables)

    assert answer == server(body, variables)
    assert answer[0] == "ok"


# --- jinja2 ----------------------------------------------------------------------------------

JINJA_BLOCKS = [
    "{{ V }}",
    "{{V}}",
    "{{ V | string | upper }}",
    "{{ V | tojson }}",
    "{{ V | length }}",
    "{{ V | default('none') }}",
    "{% if V %}yes{% else %}no{% endif %}",
    "{% for item in V %}[{{ loop.index }}:{{ item }}]{% endfor %}",
    "{{ V ~ '!' }}",
    "{% set kept = V %}{{ kept }}",
    "{{ V is string }}",
    "{{ V | join(', ') }}",
    "{{ V | first }}",
    "{{ V | sort }}",
    "{{ V | round }}",
    "{{ V.missing }}",
    "{{ V | dictsort if V is mapping else V | trim | title }}",
    # A list grows in place: the next text of the same render sees it, the caller never does.
    "{% if V is sequence and V is not string and V is not mapping %}"
    "{% set _ = V.append('more') %}{% endif %}{{ V }}",
]
JINJA_LITERALS = [
    "text ",
    "\n",
    "ü漢字😀",
    "{{ '{{x}}' }}",
    "{# note #}",
    "{% raw %}{{ a }}{% endraw %}",
    "  \n",
]


def jinja_text(include_names: list[str]) -> st.SearchStrategy[str]:
    blocks = st.builds(
        lambda block, name: block.replace("V", name),
        st.sampled_from(JINJA_BLOCKS),
        st.sampled_from(NAMES),
    )
    parts = blocks | st.sampled_from(JINJA_LITERALS)
    if include_names:
        parts |= st.sampled_from([f'{{% include "{name}" %}}' for name in include_names])
    return st.lists(parts, min_size=1, max_size=5).map("".join)


@st.composite
def jinja_bodies(draw) -> dict:
    """jinja2 includes (one may include the other), and now and then a mustache include, which
    the portal's sandbox cannot load: both sides refuse it the same way."""
    includes: dict[str, dict] = {}
    can_include: list[str] = []
    if draw(st.integers(0, 4)) == 0:
        includes["lib/m-one"] = {"template": "{{a}}", "template_format": "mustache"}
        can_include.append("lib/m-one")
    for name in ["lib/j-two", "lib/j-one"][: draw(st.integers(0, 2))]:
        includes[name] = {"template": draw(jinja_text(can_include)), "template_format": "jinja2"}
        can_include.append(name)
    chat = draw(st.booleans())
    sources = draw(st.lists(jinja_text(can_include), min_size=1, max_size=3 if chat else 1))
    required = set().union(*map(jinja_variables, sources))
    for item in includes.values():
        if item["template_format"] == "mustache":
            required |= placeholders("mustache", [item["template"]])
        else:
            required |= jinja_variables(item["template"])
    for item in includes.values():
        item.update(version=1, sha256="0" * 64, variables=[])
    return body_of(
        template_format="jinja2", texts=sources, chat=chat, includes=includes, required=required
    )


@settings(PARITY, max_examples=100)
@given(body=jinja_bodies(), data=st.data())
def test_jinja2_renders_and_refuses_as_the_portal(body, data):
    variables = data.draw(values_for(set(body["required_variables"])))
    before = copy.deepcopy(variables)

    answer = client(body, variables)

    assert answer == server(body, variables)
    assert variables == before


# --- Refusals --------------------------------------------------------------------------------

given_names = st.sets(
    st.sampled_from([*NAMES, "unknown", "b" * 80]) | st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    max_size=25,
)


@settings(PARITY, max_examples=80)
@given(
    required=st.sets(st.sampled_from(NAMES), min_size=1)
    | st.sets(st.from_regex(r"v[0-9]{1,3}", fullmatch=True), min_size=22, max_size=30),
    given_names=given_names,
    template_format=st.sampled_from(["mustache", "jinja2"]),
)
def test_mismatched_variables_are_refused_in_the_portals_words(
    required, given_names, template_format
):
    template = " ".join(f"{{{{{name}}}}}" for name in sorted(required))
    body = body_of(
        template_format=template_format,
        texts=[template],
        chat=False,
        includes={},
        required=required,
    )
    variables = dict.fromkeys(given_names, "value")

    answer = client(body, variables)

    assert answer == server(body, variables)
    assert (answer[0] == "refused") == (given_names != required)


def chain(depth: int) -> dict:
    """lib/c-0 includes lib/c-1 … includes lib/c-{depth}."""
    return {
        f"lib/c-{i}": {
            "template": f"{i}{{{{> lib/c-{i + 1}}}}}" if i < depth else "end",
            "template_format": "mustache",
        }
        for i in range(depth + 1)
    }


LIMITS = {
    "output cap, mustache": ("mustache", "{{a}}{{a}}", {}, "x" * 100_001),
    "output cap, jinja2": ("jinja2", "{{ a }}{{ a }}", {}, "x" * 100_001),
    "output cap, included text": (
        "mustache",
        "{{> lib/big}}",
        {"lib/big": {"template": "{{a}}!", "template_format": "mustache"}},
        "x" * 200_000,
    ),
    "placeholders": ("mustache", "{{a}}" * 50_001, {}, ""),
    "includes nest too deeply": ("mustache", "{{> lib/c-0}}", chain(9), ""),
    "eight levels are fine": ("mustache", "{{> lib/c-0}}", chain(7), ""),
    "too many jinja2 renders": (
        "mustache",
        "".join(f"{{{{> lib/j-{i}}}}}" for i in range(11)),
        {f"lib/j-{i}": {"template": "{{ a }}", "template_format": "jinja2"} for i in range(11)},
        "v",
    ),
    "jinja2 includes a mustache prompt": (
        "jinja2",
        '{% include "lib/m" %}',
        {"lib/m": {"template": "{{a}}", "template_format": "mustache"}},
        "",
    ),
    "undefined attribute": ("jinja2", "{{ a.b.c }}", {}, {"b": {}}),
    "unsafe attribute": ("jinja2", "{{ a.__class__.__mro__ }}", {}, "x"),
    "runtime error": ("jinja2", "{{ 1 // a }}", {}, 0),
    "syntax error": ("jinja2", "{% if a %}", {}, 1),
    "no lipsum": ("jinja2", "{{ lipsum(1) }}", {}, 1),
    "no unknown filter": ("jinja2", "{{ a | shout }}", {}, 1),
}


@pytest.mark.parametrize(
    ("template_format", "template", "includes", "value"), LIMITS.values(), ids=LIMITS.keys()
)
def test_limits_and_failures_match_the_portal(template_format, template, includes, value):
    body = body_of(
        template_format=template_format,
        texts=[template],
        chat=False,
        includes=includes,
        required={"a"},
    )

    assert client(body, {"a": value}) == server(body, {"a": value})


GROWS = "{% set _ = a.append(a | length) %}{{ a }}"
GROWING = {
    "chat messages share one copy": ("jinja2", [GROWS, GROWS], {}),
    "each jinja2 include has its own": (
        "mustache",
        ["{{> lib/j-one}} {{> lib/j-two}} {{a}}", "{{> lib/j-one}}"],
        {
            name: {"template": GROWS, "template_format": "jinja2"}
            for name in ["lib/j-one", "lib/j-two"]
        },
    ),
}


@pytest.mark.parametrize(
    ("template_format", "texts", "includes"), GROWING.values(), ids=GROWING.keys()
)
def test_values_a_template_changes_are_copies_as_in_the_portals_worker(
    template_format, texts, includes
):
    body = body_of(
        template_format=template_format, texts=texts, chat=True, includes=includes, required={"a"}
    )
    variables = {"a": [0]}

    answer = client(body, variables)

    assert answer == server(body, {"a": [0]})
    assert answer[0] == "ok"
    assert variables == {"a": [0]}


@pytest.mark.parametrize("variables", [["a"], "a=1", None])
def test_variables_that_are_not_an_object_are_refused_like_the_portal(variables):
    body = body_of(
        template_format="mustache", texts=["{{a}}"], chat=False, includes={}, required={"a"}
    )

    answer = client(body, variables)

    assert (
        answer
        == server(body, variables)
        == ("refused", "Variables must be a JSON object of name → value.")
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1, 2}, b"bytes", [float("nan")]])
@pytest.mark.parametrize("template_format", ["mustache", "jinja2"])
def test_values_json_cannot_carry_are_refused(value, template_format):
    """The portal never receives them: its JSON parser refuses the request."""
    body = body_of(
        template_format=template_format, texts=["{{a}}"], chat=False, includes={}, required={"a"}
    )

    with pytest.raises(RenderError, match="must be JSON values"):
        rendering.render(body, {"a": value})


def test_values_render_as_their_json_would():
    body = body_of(
        template_format="jinja2", texts=["{{ a }}"], chat=False, includes={}, required={"a"}
    )

    assert rendering.render(body, {"a": (1, 2)}) == server(body, {"a": [1, 2]})[1] == "[1, 2]"


def test_a_prompt_is_compiled_once():
    body = body_of(
        template_format="mustache", texts=["Hi {{a}}!"], chat=False, includes={}, required={"a"}
    )
    rendering.render(body, {"a": 1})
    before = rendering._compiled.cache_info()

    assert rendering.render(json.loads(json.dumps(body)), {"a": 2}) == "Hi 2!"

    after = rendering._compiled.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)


PORTAL_PACKAGES = ("django", "rest_framework", "portal", "prompts", "teams", "approvals")


def test_the_client_imports_nothing_from_django_or_the_portal():
    script = (
        "import promptportal.rendering, sys; "
        f"found = [m for m in sys.modules if m.split('.')[0] in {PORTAL_PACKAGES!r}]; "
        "assert not found, found"
    )

    subprocess.run(
        [sys.executable, "-c", script], check=True, cwd=CLIENT, env={"PATH": "/usr/bin:/bin"}
    )
