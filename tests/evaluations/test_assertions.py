"""Every assertion type, its `not-` form and its failure reason (promptfoo 0.121.20's)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prompts.evaluations.assertions import (
    KNOWN_TYPES,
    check_assertions,
    extract_json_objects,
    parse_comma_separated,
    score_case,
)


def one(kind: str, value=None, output: str = "Hello World", **extra):
    assertion = {"type": kind, **({"value": value} if value is not None else {}), **extra}
    result = score_case(
        output=output,
        assertions=[assertion],
        threshold=None,
        latency_ms=extra.pop("latency", 120.0),
        cost_usd=0.002,
        judge=lambda rubric, out: (0.8 if "polite" in rubric else 0.2, "judged"),
    )
    return result.assertions[0]


CASES = [
    # type, value, output, passes, reason when it fails
    ("equals", "Hello World", "Hello World", True, None),
    ("equals", "Hello", "Hello World", False, 'Expected output "Hello World" to equal "Hello"'),
    ("equals", {"a": 1}, '{"a": 1}', True, None),
    ("equals", 42, "42", True, None),
    ("contains", "World", "Hello World", True, None),
    ("contains", "world", "Hello World", False, 'Expected output to contain "world"'),
    ("icontains", "world", "Hello World", True, None),
    ("icontains", "moon", "Hello World", False, 'Expected output to contain "moon"'),
    ("contains-any", ["moon", "World"], "Hello World", True, None),
    (
        "contains-any",
        "moon, sun",
        "Hello World",
        False,
        'Expected output to contain one of "moon, sun"',
    ),
    ("contains-all", ["Hello", "World"], "Hello World", True, None),
    (
        "contains-all",
        "Hello, moon",
        "Hello World",
        False,
        "Expected output to contain all of [Hello, moon]. Missing: [moon]",
    ),
    ("starts-with", "Hello", "Hello World", True, None),
    ("starts-with", "World", "Hello World", False, 'Expected output to start with "World"'),
    ("regex", r"W\w+d$", "Hello World", True, None),
    ("regex", r"^\d+$", "Hello World", False, 'Expected output to match regex "^\\d+$"'),
    ("is-json", None, '{"a": [1]}', True, None),
    ("is-json", None, "Hello World", False, "Expected output to be valid JSON"),
    ("contains-json", None, 'Answer: {"a": 1} done', True, None),
    ("contains-json", None, "no json here", False, "Expected output to contain valid JSON"),
    ("levenshtein", "Hello Wrld", "Hello World", True, None),
    (
        "levenshtein",
        "Goodbye",
        "Hello World",
        False,
        "Levenshtein distance 10 is greater than threshold 5",
    ),
    ("llm-rubric", "is polite", "Hello World", True, "judged"),
    ("llm-rubric", "is rude", "Hello World", False, "judged"),
]


@pytest.mark.parametrize(("kind", "value", "output", "passes", "reason"), CASES)
def test_each_type_and_its_negation(kind, value, output, passes, reason):
    result = one(kind, value, output)
    assert result["passed"] is passes
    assert result["score"] == (1.0 if passes else 0.0) or kind == "llm-rubric"
    if not passes:
        assert result["reason"] == reason
    elif kind != "llm-rubric":
        assert result["reason"] == "Assertion passed"

    negated = one(f"not-{kind}", value, output)
    assert negated["passed"] is (not passes)
    assert negated["type"] == f"not-{kind}"


def test_negated_reasons_say_not():
    assert one("not-contains", "World")["reason"] == 'Expected output to not contain "World"'
    assert one("not-equals", "Hello World")["reason"] == (
        'Expected output "Hello World" to not equal "Hello World"'
    )
    assert one("not-levenshtein", "Hello World")["reason"] == (
        "Levenshtein distance 0 is less than or equal to threshold 5"
    )


def test_json_schema_and_is_json_with_a_schema():
    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    assert one("json-schema", schema, '{"name": "x"}')["passed"]
    failed = one("json-schema", schema, '{"age": 3}')
    assert not failed["passed"]
    assert failed["reason"].startswith("JSON does not conform to the provided schema. Errors:")
    assert "'name' is a required property" in failed["reason"]
    assert one("is-json", schema, '{"name": "x"}')["passed"]
    assert not one("is-json", schema, "[1]")["passed"]
    assert one("not-json-schema", schema, '{"age": 3}')["passed"]
    yaml_schema = "type: object\nrequired: [name]"
    assert one("contains-json", yaml_schema, 'x {"name": 1} y')["passed"]
    assert not one("contains-json", yaml_schema, 'x {"other": 1} y')["passed"]
    assert not one("json-schema", {"type": "nonsense"}, "{}")["passed"]


def test_levenshtein_threshold_is_the_max_distance():
    assert one("levenshtein", "Hello", "Hello World", threshold=6)["passed"]
    assert not one("levenshtein", "Hello", "Hello World", threshold=5)["passed"]


def test_latency_and_cost_against_thresholds():
    def limited(kind, threshold, latency=None, cost=None):
        return score_case(
            output="x",
            assertions=[{"type": kind, "threshold": threshold}],
            threshold=None,
            latency_ms=latency,
            cost_usd=cost,
            judge=None,
        ).assertions[0]

    assert limited("latency", 500, latency=120)["passed"]
    slow = limited("latency", 100, latency=120)
    assert slow["reason"] == "Latency 120ms is greater than threshold 100ms"
    assert limited("not-latency", 100, latency=120)["passed"]
    assert limited("cost", 0.01, cost=0.002)["passed"]
    assert limited("cost", 0.001, cost=0.002)["reason"] == (
        "Cost 0.002 is greater than threshold 0.001"
    )
    assert not limited("latency", 100)["passed"]  # not measured: fails, with a reason
    missing = score_case(
        output="x",
        assertions=[{"type": "cost"}],
        threshold=None,
        latency_ms=1,
        cost_usd=0,
        judge=None,
    ).assertions[0]
    assert missing == {
        "type": "cost",
        "value": None,
        "passed": False,
        "score": 0.0,
        "reason": "Cost assertion must have a threshold",
    }


def test_llm_rubric_threshold_and_score():
    result = one("llm-rubric", "is polite", threshold=0.9)
    assert not result["passed"]
    assert result["score"] == 0.8
    assert one("not-llm-rubric", "is rude")["score"] == pytest.approx(0.8)
    no_judge = score_case(
        output="x",
        assertions=[{"type": "llm-rubric", "value": "r"}],
        threshold=None,
        latency_ms=None,
        cost_usd=None,
        judge=None,
    )
    assert not no_judge.passed
    assert "judge" in no_judge.assertions[0]["reason"]


def test_weighted_score_and_test_threshold():
    assertions = [
        {"type": "contains", "value": "Hello", "weight": 3},
        {"type": "contains", "value": "moon", "weight": 1},
    ]
    plain = score_case(
        output="Hello",
        assertions=assertions,
        threshold=None,
        latency_ms=None,
        cost_usd=None,
        judge=None,
    )
    assert plain.score == 0.75
    assert not plain.passed
    lenient = score_case(
        output="Hello",
        assertions=assertions,
        threshold=0.7,
        latency_ms=None,
        cost_usd=None,
        judge=None,
    )
    assert lenient.passed
    assert lenient.score == 0.75
    strict = score_case(
        output="Hello",
        assertions=assertions,
        threshold=0.8,
        latency_ms=None,
        cost_usd=None,
        judge=None,
    )
    assert not strict.passed
    zero_weight = score_case(
        output="Hello",
        assertions=[{"type": "contains", "value": "moon", "weight": 0}],
        threshold=None,
        latency_ms=None,
        cost_usd=None,
        judge=None,
    )
    assert zero_weight.passed  # promptfoo: weight 0 is informational
    assert zero_weight.score == 0.0
    assert zero_weight.assertions[0]["reason"] == 'Expected output to contain "moon"'


def test_no_assertions_pass_and_unknown_types_fail_with_a_reason():
    empty = score_case(
        output="x", assertions=[], threshold=None, latency_ms=None, cost_usd=None, judge=None
    )
    assert empty.passed
    assert empty.score == 1.0
    unknown = score_case(
        output="x",
        assertions=[{"type": "javascript", "value": "true"}],
        threshold=None,
        latency_ms=None,
        cost_usd=None,
        judge=None,
    )
    assert not unknown.passed
    assert unknown.assertions[0]["reason"] == 'Unknown assertion type "javascript"'


def test_check_assertions_reports_every_problem():
    assert check_assertions([{"type": "contains", "value": "a"}]) == []
    problems = check_assertions(
        [
            {"type": "javascript", "value": "x"},
            {"type": "contains"},
            {"type": "latency"},
            {"type": "regex", "value": "("},
            {"type": "not-equals", "value": "a", "weight": -1},
            "nonsense",
        ]
    )
    assert problems[0] == "Assertion 1 (javascript): unknown assertion type."
    assert problems[1] == "Assertion 2 (contains): needs a value."
    assert problems[2] == "Assertion 3 (latency): needs a threshold."
    assert problems[3].startswith("Assertion 4 (regex): invalid regex pattern")
    assert problems[4] == "Assertion 5 (not-equals): weight must be a number ≥ 0."
    assert problems[5] == "Assertion 6: must be an object with a type."
    assert check_assertions("x") == ["Assertions must be a list."]
    assert "not-contains" not in KNOWN_TYPES
    assert "contains" in KNOWN_TYPES


def test_comma_separated_values_and_json_extraction_as_promptfoo():
    assert parse_comma_separated('a, "b, c" ,, d') == ["a", "b, c", "d"]
    assert parse_comma_separated('"say ""hi"""') == ['say "hi"']
    assert extract_json_objects('x {"a": {"b": 1}} y {"c": 2}') == [{"a": {"b": 1}}, {"c": 2}]
    assert extract_json_objects('cut {"a": 1') == [{"a": 1}]
    assert extract_json_objects("{ a: b: c }") == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
assertion_dicts = st.fixed_dictionaries(
    {"type": st.sampled_from([*sorted(KNOWN_TYPES), "not-regex", "not-is-json", "bogus"])},
    optional={"value": json_values, "threshold": json_values, "weight": json_values},
)


@settings(max_examples=300, deadline=None)
@given(
    output=st.text(max_size=40),
    assertions=st.lists(assertion_dicts | json_values, max_size=4),
    threshold=st.none() | st.floats(0, 1),
)
def test_any_assertions_on_any_output_give_a_verdict_never_an_exception(
    output, assertions, threshold
):
    check_assertions(assertions)
    result = score_case(
        output=output,
        assertions=assertions,
        threshold=threshold,
        latency_ms=5.0,
        cost_usd=0.0,
        judge=lambda rubric, out: (0.5, "ok"),
    )
    assert len(result.assertions) == len(assertions)
    assert isinstance(result.score, float)
    assert all(isinstance(item["reason"], str) for item in result.assertions)
