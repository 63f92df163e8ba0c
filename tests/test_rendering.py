"""Property tests of mustache rendering: values go in verbatim and are never read as template."""

from hypothesis import given
from hypothesis import strategies as st

from prompts.rendering import Source, render
from prompts.templating import placeholders

names = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)
text_without_braces = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=30)
values = st.text(max_size=40)


def mustache(template: str) -> Source:
    return Source(template_format="mustache", template=template, includes={})


@given(
    parts=st.lists(st.tuples(text_without_braces, names), min_size=1, max_size=6),
    tail=text_without_braces,
    data=st.data(),
)
def test_values_round_trip_and_no_placeholder_is_left(parts, tail, data):
    template = "".join(f"{text}{{{{{name}}}}}" for text, name in parts) + tail
    variables = {name: data.draw(values) for name in {name for _, name in parts}}

    rendered = render(mustache(template), variables)

    expected = "".join(text + variables[name] for text, name in parts) + tail
    assert rendered == expected
    assert placeholders("mustache", [template]) == set(variables)


@given(
    value=st.sampled_from(["{{secret}}", "{{> ops/admin}}", "{% include 'x' %}", "{{{x}}}"])
    | st.text(max_size=40).map(lambda t: "{{" + t + "}}")
)
def test_template_syntax_in_values_is_not_interpreted(value):
    rendered = render(mustache("Say: {{text}}!"), {"text": value})

    assert rendered == f"Say: {value}!"


@given(value=st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none()))
def test_scalars_render_as_their_text(value):
    rendered = render(mustache("[{{v}}]"), {"v": value})

    if isinstance(value, bool):
        expected = "true" if value else "false"
    else:
        expected = "" if value is None else str(value)
    assert rendered == f"[{expected}]"
