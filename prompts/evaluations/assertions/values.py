"""The values of promptfoo's assertions as promptfoo reads them: comma-separated lists
(`parseCommaSeparatedValues`), JavaScript's `String(value)`, JSON objects found in a text
(`extractJsonObjects`), and JSON schemas given as objects or YAML text."""

from typing import Any

import jsonschema
import yaml


class Unevaluable(Exception):
    """The assertion cannot be evaluated (promptfoo throws an invariant error)."""


def parse_comma_separated(value: str) -> list[str]:
    """promptfoo's `parseCommaSeparatedValues`: fields split on commas, whitespace trimmed,
    double-quoted fields keep their commas (`\\"` or `""` inside), empty fields skipped."""
    results: list[str] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        if i >= n:
            break
        if value[i] == '"':
            i += 1
            text: list[str] = []
            terminated = False
            while i < n:
                if value[i] == "\\" and i + 1 < n and value[i + 1] in '"\\':
                    text.append(value[i + 1])
                    i += 2
                elif value[i] == '"' and i + 1 < n and value[i + 1] == '"':
                    text.append('"')
                    i += 2
                elif value[i] == '"':
                    i += 1
                    terminated = True
                    break
                else:
                    text.append(value[i])
                    i += 1
            if not terminated:
                raise Unevaluable("Unterminated quoted field in contains assertion value")
            while i < n and value[i].isspace():
                i += 1
            if i < n and value[i] != ",":
                raise Unevaluable("Expected comma after quoted field in contains assertion value")
            results.append("".join(text))
        else:
            start = i
            while i < n and value[i] != ",":
                i += 1
            results.append(value[start:i].strip())
    return results


def js_string(value: Any) -> str:
    """What JavaScript's String(value) gives for the values YAML and JSON hold."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(js_string(item) for item in value)
    return str(value)


def schema_of(value: Any) -> dict:
    schema = yaml.safe_load(value) if isinstance(value, str) else value
    if not isinstance(schema, dict):
        raise Unevaluable("The schema must be an object (JSON or YAML).")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise Unevaluable(f"Invalid JSON schema: {exc.message}") from exc
    return schema


def schema_errors(schema: dict, document: Any) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/' + '/'.join(map(str, e.absolute_path))} {e.message}" for e in errors]


def extract_json_objects(text: str) -> list[Any]:
    """promptfoo's `extractJsonObjects`: every balanced `{…}` that parses (as YAML's JSON
    subset, a missing closing brace supplied at the end of the text), left to right."""
    found: list[Any] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] != "{":
            i += 1
            continue
        opened, closed, j = 1, 0, i + 1
        next_i = i + 1
        while j < min(i + 100_000, n) and opened > closed:
            opened += text[j] == "{"
            closed += text[j] == "}"
            j += 1
            if opened == closed or j == n:
                candidate = text[i:j] + "}" * max(0, opened - closed)
                try:
                    parsed = yaml.safe_load(candidate)
                except yaml.YAMLError:
                    if opened == closed:
                        break
                    continue
                if isinstance(parsed, dict | list):
                    found.append(parsed)
                    next_i = j
                    break
        i = next_i
    return found
