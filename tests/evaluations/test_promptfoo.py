"""promptfoo files parsed the way promptfoo reads them (0.121's prepareTestCaseForEval), as its
documentation writes them, and exported so they read back unchanged."""

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.errors import Invalid
from prompts.evaluations import promptfoo

DOCS_EXAMPLE = textwrap.dedent(
    """\
    # From promptfoo's "Test cases" and "Assertions & metrics" pages
    description: Translation
    prompts:
      - "Translate to {{language}}: {{input}}"
    providers:
      - openai:gpt-4o-mini
    defaultTest:
      vars:
        language: French
      assert:
        - type: not-icontains
          value: "as an ai"
      threshold: 0.5
    tests:
      - description: A greeting
        vars:
          input: Hello world
        assert:
          - type: icontains
            value: bonjour
            weight: 2
          - type: contains-any
            value: ["monde", "world"]
      - vars:
          input: Goodbye
          language: German
        threshold: 0.9
        options:
          disableDefaultAsserts: true
        assert:
          - type: equals
            value: "Auf Wiedersehen"
            metric: exactness
          - type: llm-rubric
            value: Sounds like a native speaker
            threshold: 0.7
            provider: judge-model
          - type: python
            value: len(output) < 100
    """
)


def test_default_test_is_merged_into_every_test():
    parsed = promptfoo.parse(format="promptfoo", content=DOCS_EXAMPLE)
    first, second = parsed.cases
    assert parsed.description == "Translation"
    assert first.variables == {"language": "French", "input": "Hello world"}
    assert first.assertions == [
        {"type": "not-icontains", "value": "as an ai"},
        {"type": "icontains", "value": "bonjour", "weight": 2},
        {"type": "contains-any", "value": ["monde", "world"]},
    ]
    assert first.threshold == 0.5
    assert first.warnings == []
    assert second.variables == {"language": "German", "input": "Goodbye"}
    assert second.threshold == 0.9
    assert [a["type"] for a in second.assertions] == ["equals", "llm-rubric", "python"]
    assert second.assertions[1] == {
        "type": "llm-rubric",
        "value": "Sounds like a native speaker",
        "threshold": 0.7,
        "provider": "judge-model",
    }
    assert second.warnings == [
        "Test 2, assertion 1: ignored metric (not supported here).",
        "Test 2: Assertion 3 (python): unknown assertion type.",
    ]


def test_plain_var_placeholders_in_values_are_filled_others_reported():
    parsed = promptfoo.parse(
        format="promptfoo",
        content=textwrap.dedent(
            """\
            tests:
              - vars: {name: Ada, count: 3}
                assert:
                  - type: contains
                    value: "{{ name }} has {{count}}"
                  - type: contains-all
                    value: ["{{name}}", plain]
                  - type: equals
                    value: "{{ name | upper }}"
            """
        ),
    )
    (case,) = parsed.cases
    assert [a["value"] for a in case.assertions] == [
        "Ada has 3",
        ["Ada", "plain"],
        "{{ name | upper }}",
    ]
    assert len(case.warnings) == 1
    assert case.warnings[0].startswith("Test 1, assertion 3: the value is a template")


def test_a_bare_list_of_tests_and_list_vars_are_read_with_a_warning():
    parsed = promptfoo.parse(
        format="promptfoo", content="- vars: {x: [1, 2]}\n  assert: [{type: is-json}]\n"
    )
    assert parsed.cases[0].variables == {"x": [1, 2]}
    assert "one test per item" in parsed.cases[0].warnings[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tests: file://tests.yaml\n", "tests: must be a list"),
        ("tests:\n  - vars: file://vars.yaml\n", "vars must be a mapping"),
        ("tests:\n  - assert: {type: equals}\n", "assert must be a list"),
        ("tests:\n  - threshold: high\n", "threshold must be a number"),
        ("just text\n", "expected a promptfoo config"),
        ("tests:\n  - vars: {a: 1\n", "line 3"),
        ("tests:\n  - vars: {a: .nan}\n", "numbers must be finite"),
        ("tests:\n  - vars: {a: !!binary aGk=}\n", "binary values"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
                for i in range(6)
            )
            + "tests:\n  - vars: {v: *g}\n",
            "expands to more than",
        ),
    ],
)
def test_what_cannot_be_imported_is_a_422_that_says_why(content, message):
    with pytest.raises(Invalid) as raised:
        promptfoo.parse(format="promptfoo", content=content)
    assert message in raised.value.errors["content"][0]


def test_yaml_dates_become_text_and_json_lines_refuse_nan():
    parsed = promptfoo.parse(format="promptfoo", content="tests:\n  - vars: {day: 2024-05-01}\n")
    assert parsed.cases[0].variables == {"day": "2024-05-01"}
    with pytest.raises(Invalid) as raised:
        promptfoo.parse(format="jsonl", content='{"vars": {"a": NaN}}\n')
    assert raised.value.errors["content"][0].startswith("line 1: invalid JSON")


def test_json_lines_name_the_bad_line():
    with pytest.raises(Invalid) as raised:
        promptfoo.parse(format="jsonl", content='{"vars": {}}\n\n[1, 2]\n')
    assert raised.value.errors["content"] == ["Line 3 must be a mapping with vars and assert."]


@pytest.mark.parametrize("fmt", promptfoo.FORMATS)
def test_export_reads_back_unchanged(fmt):
    parsed = promptfoo.parse(format="promptfoo", content=DOCS_EXAMPLE)
    text = promptfoo.export(description=parsed.description, cases=parsed.cases, format=fmt)
    again = promptfoo.parse(format=fmt, content=text)

    def shape(cases):
        return [(c.description, c.variables, c.assertions, c.threshold) for c in cases]

    assert shape(again.cases) == shape(parsed.cases)


@settings(max_examples=200, deadline=None)
@given(
    content=st.text(max_size=200)
    | st.builds(
        lambda body: f"tests:\n  - vars: {body}\n    assert: [{{type: contains, value: x}}]\n",
        st.text(max_size=40),
    ),
    fmt=st.sampled_from(promptfoo.FORMATS),
)
def test_any_text_is_parsed_or_refused_with_a_422(content, fmt):
    try:
        parsed = promptfoo.parse(format=fmt, content=content)
    except Invalid as exc:
        refusal = exc.errors
    else:
        refusal = None
        for case in parsed.cases:
            assert isinstance(case.variables, dict)
            assert isinstance(case.assertions, list)
    assert refusal is None or refusal["content"]
