"""promptfoo test files in and out: YAML (`tests:` with `vars`, `assert`, `description`,
`threshold`, and `defaultTest` merged into every test as promptfoo 0.121's
`prepareTestCaseForEval` does) and JSON Lines (one case per line:
`{description?, vars, assert, threshold?}`).

Assertion values are literal here; promptfoo renders them as Nunjucks with the test's vars,
so a plain `{{ var }}` of one of the test's vars is filled in on import (anything more is
kept as written and reported). Parsing never drops anything silently: an unknown assertion
type is kept (it fails when the case runs, with its reason) and reported in the case's
warnings, as are keys we ignore.
"""

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from portal.errors import Invalid
from prompts.evaluations.assertions import check_assertions
from prompts.evaluations.assertions.values import js_string

FORMATS = ("promptfoo", "jsonl")
MAX_CASES = 2000
MAX_VALUES = 200_000  # after YAML aliases are expanded
MAX_DEPTH = 32
ASSERTION_KEYS = ("type", "value", "threshold", "weight")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
TEST_KEYS = {"description", "vars", "assert", "threshold", "options", "metadata"}


@dataclass(frozen=True)
class ParsedCase:
    description: str
    variables: dict
    assertions: list[dict]
    threshold: float | None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedSuite:
    description: str
    cases: list[ParsedCase]


def _problem(detail: str, *, line: int | None = None) -> Invalid:
    message = f"line {line}: {detail}" if line is not None else detail
    return Invalid(f"The file cannot be imported: {message}", errors={"content": [message]})


def _filled(text: str, variables: dict, warnings: list[str], where: str) -> str:
    """promptfoo renders a value as a Nunjucks template with the test's vars; values here are
    literal, so a plain `{{ name }}` of a var is filled in now, anything else reported."""
    if "{{" not in text and "{%" not in text:
        return text
    names = PLACEHOLDER.findall(text)
    rest = PLACEHOLDER.sub("", text)
    if "{{" in rest or "{%" in rest or any(name not in variables for name in names):
        warnings.append(
            f"{where}: the value is a template promptfoo fills with the test's vars; it is "
            "kept literally here (only a plain {{ var }} of a known var is filled in)."
        )
        return text
    return PLACEHOLDER.sub(lambda match: js_string(variables[match.group(1)]), text)


def _assertion(raw: Any, variables: dict, warnings: list[str], where: str) -> dict:
    if not isinstance(raw, dict):
        return {"type": str(raw)}
    kept = {key: raw[key] for key in ASSERTION_KEYS if key in raw and raw[key] is not None}
    if isinstance(raw.get("provider"), str):
        kept["provider"] = raw["provider"]  # llm-rubric's judge: a registered model's name
    ignored = sorted(set(raw) - set(kept) - set(ASSERTION_KEYS))
    if ignored:
        warnings.append(f"{where}: ignored {', '.join(ignored)} (not supported here).")
    value = kept.get("value")
    if isinstance(value, str):
        kept["value"] = _filled(value, variables, warnings, where)
    elif isinstance(value, list):
        kept["value"] = [
            _filled(item, variables, warnings, where) if isinstance(item, str) else item
            for item in value
        ]
    return kept


def _case(raw: Any, *, default: dict, where: str) -> ParsedCase:
    if not isinstance(raw, dict):
        raise _problem(f"{where} must be a mapping with vars and assert.")
    warnings: list[str] = []
    ignored = sorted(set(raw) - TEST_KEYS)
    if ignored:
        warnings.append(f"{where}: ignored {', '.join(ignored)} (not supported here).")
    variables = raw.get("vars") or {}
    if not isinstance(variables, dict):
        raise _problem(f"{where}: vars must be a mapping (a file reference is not supported).")
    variables = {**(default.get("vars") or {}), **variables}
    for name, value in variables.items():
        if isinstance(value, str) and value.startswith("file://"):
            warnings.append(f"{where}: var {name} is a file reference, imported as its text.")
        if isinstance(value, list):
            warnings.append(
                f"{where}: var {name} is a list; promptfoo would run one test per item, "
                "here it is one variable holding the list."
            )
    raw_assertions = raw.get("assert") or []
    default_assertions = default.get("assert") or []
    if not isinstance(raw_assertions, list) or not isinstance(default_assertions, list):
        raise _problem(f"{where}: assert must be a list.")
    if (raw.get("options") or {}).get("disableDefaultAsserts") is True:
        default_assertions = []
    assertions = [
        _assertion(item, variables, warnings, f"{where}, assertion {index}")
        for index, item in enumerate([*default_assertions, *raw_assertions], start=1)
    ]
    warnings += [f"{where}: {problem}" for problem in check_assertions(assertions)]
    threshold = raw.get("threshold", default.get("threshold"))
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int | float)
    ):
        raise _problem(f"{where}: threshold must be a number.")
    description = raw.get("description") or ""
    return ParsedCase(
        description=str(description)[:500],
        variables=variables,
        assertions=assertions,
        threshold=None if threshold is None else float(threshold),
        warnings=warnings,
    )


class _Budget:
    """How many values a file may expand to: YAML aliases can make a short file huge."""

    def __init__(self) -> None:
        self.left = MAX_VALUES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _problem(f"the file expands to more than {MAX_VALUES} values.")


def _plain(value: Any, budget: _Budget, depth: int = 0) -> Any:
    """What YAML read, as JSON can hold it: dates as ISO text, keys as text; non-finite
    numbers, binary and nesting deeper than MAX_DEPTH refused."""
    budget.spend()
    if depth > MAX_DEPTH:
        raise _problem(f"the file nests deeper than {MAX_DEPTH} levels.")
    if isinstance(value, dict):
        return {str(key): _plain(item, budget, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, budget, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise _problem("numbers must be finite (no .nan or .inf).")
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes | set):
        raise _problem("binary values and sets are not supported.")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _load_yaml(content: str) -> Any:
    try:
        return yaml.safe_load(content)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise _problem(str(exc.problem or exc.context or "invalid YAML"), line=line) from exc
    except yaml.YAMLError as exc:
        raise _problem(f"invalid YAML: {exc}") from exc


def parse_promptfoo(content: str) -> ParsedSuite:
    document = _load_yaml(content)
    if isinstance(document, list):
        document = {"tests": document}
    if not isinstance(document, dict):
        raise _problem("expected a promptfoo config with tests: (or a list of tests).")
    budget = _Budget()
    document = {
        key: _plain(document[key], budget)
        for key in ("description", "defaultTest", "tests")
        if key in document
    }
    tests = document.get("tests")
    if not isinstance(tests, list):
        raise _problem("tests: must be a list of tests (file references are not supported).")
    default = document.get("defaultTest") or {}
    if not isinstance(default, dict):
        raise _problem("defaultTest must be a mapping (a file reference is not supported).")
    if len(tests) > MAX_CASES:
        raise _problem(f"at most {MAX_CASES} tests per suite.")
    cases = [
        _case(raw, default=default, where=f"Test {index}") for index, raw in enumerate(tests, 1)
    ]
    description = document.get("description")
    return ParsedSuite(description=str(description or ""), cases=cases)


def parse_jsonl(content: str) -> ParsedSuite:
    cases: list[ParsedCase] = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise _problem(f"invalid JSON: {exc}", line=number) from exc
        if len(cases) >= MAX_CASES:
            raise _problem(f"at most {MAX_CASES} cases per suite.", line=number)
        cases.append(_case(raw, default={}, where=f"Line {number}"))
    return ParsedSuite(description="", cases=cases)


def parse(*, format: str, content: str) -> ParsedSuite:
    if format == "promptfoo":
        return parse_promptfoo(content)
    if format == "jsonl":
        return parse_jsonl(content)
    raise Invalid.field("format", f"Format must be one of {', '.join(FORMATS)}.")


def _test(case: Any) -> dict:
    test: dict[str, Any] = {}
    if case.description:
        test["description"] = case.description
    test["vars"] = dict(case.variables)
    test["assert"] = [dict(assertion) for assertion in case.assertions]
    if case.threshold is not None:
        test["threshold"] = case.threshold
    return test


def export(*, description: str, cases: list[Any], format: str) -> str:
    """The cases (anything with description, variables, assertions, threshold) as a file
    `parse` reads back unchanged."""
    tests = [_test(case) for case in cases]
    if format == "jsonl":
        return "".join(json.dumps(test, ensure_ascii=False) + "\n" for test in tests)
    if format == "promptfoo":
        document: dict[str, Any] = {}
        if description:
            document["description"] = description
        document["tests"] = tests
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    raise Invalid.field("format", f"Format must be one of {', '.join(FORMATS)}.")
