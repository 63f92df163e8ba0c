"""Assertions with promptfoo's names and semantics (checked against promptfoo 0.121.20's
`src/assertions/*.ts`): each type, its `not-` form, its reasons, and the test's score.

A case's score is the weighted mean of its assertions' scores (1 or 0 for every type but
`llm-rubric`, whose score is the judge's), as promptfoo's `AssertionsResult`. Without a test
threshold the case passes when every assertion passes; with one, when score ≥ threshold
(even if some assertion failed). A case without assertions passes with score 1.

Differences from promptfoo, on purpose: assertion values are taken literally (promptfoo
renders them as Nunjucks templates with the test's vars); `json-schema` is ours (promptfoo
spells it `is-json` with a schema value, which works here too); our judge returns a score
only, so `llm-rubric` passes at score ≥ its threshold, 0.5 by default (promptfoo takes the
grader's own verdict and then applies the threshold if one is set). An assertion that cannot
be evaluated (an unknown type, a missing threshold, a bad schema) fails with the reason,
where promptfoo would stop the test with an error: a failure either way. As in promptfoo,
an assertion of weight 0 counts as passed (its reason still says what it found).
"""

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import Levenshtein

from prompts.evaluations.assertions.values import (
    Unevaluable,
    extract_json_objects,
    js_string,
    parse_comma_separated,
    schema_errors,
    schema_of,
)

Judge = Callable[[str, str], tuple[float, str]]

KNOWN_TYPES = frozenset(
    {
        "equals",
        "contains",
        "icontains",
        "contains-any",
        "contains-all",
        "starts-with",
        "regex",
        "is-json",
        "contains-json",
        "json-schema",
        "levenshtein",
        "latency",
        "cost",
        "llm-rubric",
    }
)
# Types whose `threshold` is required; levenshtein's defaults to 5 distance (promptfoo's).
NEEDS_THRESHOLD = frozenset({"latency", "cost"})
NEEDS_VALUE = frozenset(
    {"equals", "contains", "icontains", "contains-any", "contains-all", "starts-with", "regex"}
    | {"json-schema", "levenshtein", "llm-rubric"}
)
DEFAULT_LEVENSHTEIN_THRESHOLD = 5
DEFAULT_RUBRIC_THRESHOLD = 0.5
PASSED = "Assertion passed"


@dataclass(frozen=True)
class CaseScore:
    passed: bool
    score: float
    assertions: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class _Context:
    output: str
    latency_ms: float | None
    cost_usd: float | None
    judge: Judge | None


def split_type(kind: str) -> tuple[str, bool]:
    """`not-contains` → (`contains`, True)."""
    if kind.startswith("not-"):
        return kind[4:], True
    return kind, False


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def check_assertions(assertions: Any) -> list[str]:
    """What is wrong with a list of assertions, one message per problem (empty: fine)."""
    if not isinstance(assertions, list):
        return ["Assertions must be a list."]
    problems: list[str] = []
    for index, assertion in enumerate(assertions, start=1):
        where = f"Assertion {index}"
        if not isinstance(assertion, dict) or not isinstance(assertion.get("type"), str):
            problems.append(f"{where}: must be an object with a type.")
            continue
        base, _ = split_type(assertion["type"])
        where = f"Assertion {index} ({assertion['type']})"
        if base not in KNOWN_TYPES:
            problems.append(f"{where}: unknown assertion type.")
            continue
        value = assertion.get("value")
        if base in NEEDS_VALUE and (value is None or value == "" or value == []):
            problems.append(f"{where}: needs a value.")
        threshold = assertion.get("threshold")
        if threshold is not None and _number(threshold) is None:
            problems.append(f"{where}: threshold must be a number.")
        elif base in NEEDS_THRESHOLD and threshold is None:
            problems.append(f"{where}: needs a threshold.")
        weight = assertion.get("weight")
        if weight is not None and (_number(weight) is None or _number(weight) < 0):
            problems.append(f"{where}: weight must be a number ≥ 0.")
        if base == "regex" and isinstance(value, str):
            try:
                re.compile(value)
            except re.error as exc:
                problems.append(f"{where}: invalid regex pattern: {exc}.")
    return problems


def _items(kind: str, value: Any) -> list[str]:
    if not value:
        raise Unevaluable(f'"{kind}" assertion type must have a value')
    if isinstance(value, str):
        value = parse_comma_separated(value)
    if not isinstance(value, list):
        raise Unevaluable(f'"{kind}" assertion type must have an array value')
    return [js_string(item) for item in value]


def _text_value(kind: str, value: Any, *, numbers: bool = False) -> str:
    if isinstance(value, str) and value != "":
        return value
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        return js_string(value)
    raise Unevaluable(f'"{kind}" assertion type must have a string value')


def _verdict(ok: bool, inverse: bool, failure: str) -> tuple[bool, float, str]:
    passed = ok != inverse
    return passed, 1.0 if passed else 0.0, PASSED if passed else failure


def _not(inverse: bool) -> str:
    return "not " if inverse else ""


def _is_json(ctx: _Context, value: Any, inverse: bool, *, schema_required: bool) -> tuple:
    try:
        document = json.loads(ctx.output)
        parsed = True
    except ValueError:
        document, parsed = None, False
    if schema_required and not value:
        raise Unevaluable('"json-schema" assertion type must have a schema value')
    if parsed and value:
        errors = schema_errors(schema_of(value), document)
        passed = (not errors) != inverse
        if not passed:
            reason = (
                "Output is JSON that conforms to the provided schema"
                if inverse
                else f"JSON does not conform to the provided schema. Errors: {'; '.join(errors)}"
            )
            return False, 0.0, reason
        return True, 1.0, PASSED
    return _verdict(parsed, inverse, "Expected output to be valid JSON")


def _contains_json(ctx: _Context, value: Any, inverse: bool) -> tuple:
    objects = extract_json_objects(ctx.output)
    passed = (len(objects) == 0) if inverse else (len(objects) > 0)
    failure = "Expected output to contain valid JSON"
    if value:
        schema = schema_of(value)
        for document in objects:
            errors = schema_errors(schema, document)
            passed = bool(errors) if inverse else not errors
            if not errors:
                if inverse:
                    failure = "Output contains JSON conforming to the provided schema"
                break
            failure = f"JSON does not conform to the provided schema. Errors: {'; '.join(errors)}"
    return passed, 1.0 if passed else 0.0, PASSED if passed else failure


def _equals(ctx: _Context, value: Any, inverse: bool) -> tuple:
    if isinstance(value, dict | list):
        try:
            ok = json.loads(ctx.output) == value
        except ValueError:
            ok = False
        shown = json.dumps(value, separators=(",", ":"))
    else:
        shown = js_string(value)
        ok = shown == ctx.output
    return _verdict(
        ok, inverse, f'Expected output "{ctx.output}" to {_not(inverse)}equal "{shown}"'
    )


def _limit(kind: str, measured: float | None, threshold: Any, inverse: bool) -> tuple:
    limit = _number(threshold)
    if limit is None:
        unit = " in milliseconds" if kind == "latency" else ""
        raise Unevaluable(f"{kind.capitalize()} assertion must have a threshold{unit}")
    if measured is None:
        raise Unevaluable(f"{kind.capitalize()} was not measured for this output")
    relation = "less than or equal to" if inverse else "greater than"
    shown_limit = js_string(threshold)
    if kind == "latency":
        failure = f"Latency {js_string(measured)}ms is {relation} threshold {shown_limit}ms"
    else:
        failure = f"Cost {measured:.2g} is {relation} threshold {shown_limit}"
    return _verdict(measured <= limit, inverse, failure)


def _rubric(ctx: _Context, value: Any, threshold: Any, inverse: bool) -> tuple:
    if ctx.judge is None:
        raise Unevaluable("llm-rubric needs a judge model; none is configured")
    rubric = value if isinstance(value, str) else json.dumps(value)
    raw_score, reason = ctx.judge(rubric, ctx.output)
    score = min(1.0, max(0.0, float(raw_score)))
    limit = _number(threshold)
    limit = DEFAULT_RUBRIC_THRESHOLD if limit is None else limit
    ok = score >= limit
    if inverse:
        score = 1.0 - score
    passed = ok != inverse
    if not reason:
        reason = "Grading passed" if passed else f"Score {raw_score} below threshold {limit}"
    return passed, score, reason


def _evaluate(ctx: _Context, base: str, inverse: bool, assertion: dict) -> tuple:
    value = assertion.get("value")
    out = ctx.output
    if base in {"contains", "icontains"}:
        text = _text_value(base, value, numbers=True)
        ok = text.lower() in out.lower() if base == "icontains" else text in out
        return _verdict(ok, inverse, f'Expected output to {_not(inverse)}contain "{text}"')
    if base == "contains-any":
        items = _items(base, value)
        failure = f'Expected output to {_not(inverse)}contain one of "{", ".join(items)}"'
        return _verdict(any(item in out for item in items), inverse, failure)
    if base == "contains-all":
        items = _items(base, value)
        missing = [item for item in items if item not in out]
        failure = (
            f"Expected output to {_not(inverse)}contain all of [{', '.join(items)}]. "
            f"Missing: [{', '.join(missing)}]"
        )
        return _verdict(not missing, inverse, failure)
    if base == "starts-with":
        text = _text_value(base, value)
        return _verdict(
            out.startswith(text), inverse, f'Expected output to {_not(inverse)}start with "{text}"'
        )
    if base == "regex":
        pattern = _text_value(base, value)
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            return False, 0.0, f"Invalid regex pattern: {exc}"
        failure = f'Expected output to {_not(inverse)}match regex "{pattern}"'
        return _verdict(compiled.search(out) is not None, inverse, failure)
    if base == "equals":
        return _equals(ctx, value, inverse)
    if base in {"is-json", "json-schema"}:
        return _is_json(ctx, value, inverse, schema_required=base == "json-schema")
    if base == "contains-json":
        return _contains_json(ctx, value, inverse)
    if base == "levenshtein":
        expected = _text_value(base, value)
        limit = _number(assertion.get("threshold"))
        limit = DEFAULT_LEVENSHTEIN_THRESHOLD if limit is None else limit
        distance = Levenshtein.distance(out, expected)
        relation = "less than or equal to" if inverse else "greater than"
        failure = f"Levenshtein distance {distance} is {relation} threshold {js_string(limit)}"
        return _verdict(distance <= limit, inverse, failure)
    if base == "latency":
        return _limit(base, ctx.latency_ms, assertion.get("threshold"), inverse)
    if base == "cost":
        return _limit(base, ctx.cost_usd, assertion.get("threshold"), inverse)
    if base == "llm-rubric":
        return _rubric(ctx, value, assertion.get("threshold"), inverse)
    raise Unevaluable(f'Unknown assertion type "{assertion.get("type")}"')


def score_case(
    *,
    output: str,
    assertions: list[dict],
    threshold: float | None,
    latency_ms: float | None,
    cost_usd: float | None,
    judge: Judge | None,
) -> CaseScore:
    """Run a case's assertions on one output (promptfoo's `runAssertions`)."""
    ctx = _Context(output=output, latency_ms=latency_ms, cost_usd=cost_usd, judge=judge)
    results: list[dict] = []
    total_score = total_weight = 0.0
    all_passed = True
    for assertion in assertions:
        kind = str(assertion.get("type", "")) if isinstance(assertion, dict) else ""
        base, inverse = split_type(kind)
        try:
            if not isinstance(assertion, dict) or base not in KNOWN_TYPES:
                raise Unevaluable(f'Unknown assertion type "{kind}"')
            passed, score, reason = _evaluate(ctx, base, inverse, assertion)
        except Unevaluable as exc:
            passed, score, reason = False, 0.0, str(exc)
        weight = _number(assertion.get("weight")) if isinstance(assertion, dict) else None
        weight = 1.0 if weight is None else weight
        if weight == 0:
            passed = True  # promptfoo: a weight-0 assertion is informational, never a failure
        total_score += score * weight
        total_weight += weight
        all_passed = all_passed and passed
        value = assertion.get("value") if isinstance(assertion, dict) else None
        results.append(
            {"type": kind, "value": value, "passed": passed, "score": score, "reason": reason}
        )
    if not results:
        return CaseScore(passed=True, score=1.0, assertions=[])
    case_score = total_score / total_weight if total_weight > 0 else 0.0
    passed = all_passed if threshold is None else case_score >= threshold
    return CaseScore(passed=passed, score=case_score, assertions=results)
