"""The prompts-as-code file format: one YAML file per prompt, its suites beside it.

```yaml
namespace: support
name: refund-reply
kind: text                  # text (default) | chat
description: Answers a refund request.
tags: [billing]
template_format: mustache   # mustache (default) | jinja2
variables: [name]
model_config: {model: gpt-4o-mini, temperature: 0.2}
template: |
  Hello {{name}}, …
message: Shorter greeting    # the commit message of the version this file creates
suites:                      # suite name → promptfoo file, relative to this file
  smoke: refund-reply.smoke.promptfoo.yaml
```

This module only reads the shape (unknown keys, wrong types); what a version may hold is
checked by `prompts.content.build_content` and the services, as for every other writer.
"""

import datetime as dt
import math
import posixpath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from portal.errors import Invalid

SUITE_SUFFIXES = (".promptfoo.yaml", ".promptfoo.yml")
YAML_SUFFIXES = (".yaml", ".yml")
MAX_VALUES = 100_000  # after YAML aliases are expanded
MAX_DEPTH = 32


class PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    namespace: StrictStr
    name: StrictStr
    kind: Literal["text", "chat"] = "text"
    description: StrictStr = ""
    tags: list[StrictStr] = Field(default_factory=list)
    template_format: Literal["mustache", "jinja2"] = "mustache"
    variables: list[StrictStr] = Field(default_factory=list)
    llm_config: dict[str, Any] = Field(default_factory=dict, alias="model_config")
    template: StrictStr | None = None
    messages: list[Any] | None = None
    message: StrictStr = ""
    suites: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


def is_suite_path(path: str) -> bool:
    return path.endswith(SUITE_SUFFIXES)


def is_prompt_path(path: str) -> bool:
    return path.endswith(YAML_SUFFIXES) and not is_suite_path(path)


def suite_path(prompt_path: str, reference: str) -> str:
    """Where a `suites:` entry points: relative to the prompt file, inside the folder."""
    if reference.startswith("/") or "\\" in reference:
        raise Invalid.field("suites", f"{reference!r}: name the file relative to this one.")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(prompt_path), reference))
    if joined == ".." or joined.startswith("../"):
        raise Invalid.field("suites", f"{reference!r} is outside the folder.")
    if not is_suite_path(joined):
        raise Invalid.field(
            "suites", f"{reference!r}: a suite file's name ends with {' or '.join(SUITE_SUFFIXES)}."
        )
    return joined


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_VALUES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise Invalid.field("file", f"The file expands to more than {MAX_VALUES} values.")


def _plain(value: Any, budget: _Budget, depth: int = 0) -> Any:
    """What YAML read, as JSON holds it; sets, binary, dates, non-finite numbers and nesting
    beyond MAX_DEPTH refused (a date is a quoted string here)."""
    budget.spend()
    if depth > MAX_DEPTH:
        raise Invalid.field("file", f"The file nests deeper than {MAX_DEPTH} levels.")
    if isinstance(value, dict):
        return {str(key): _plain(item, budget, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, budget, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid.field("file", "Numbers must be finite (no .nan or .inf).")
    if isinstance(value, bytes | set | dt.date | dt.datetime):
        raise Invalid.field(
            "file", f"{type(value).__name__} values are not supported; quote the text."
        )
    return value


def load_yaml(content: str) -> Any:
    try:
        document = yaml.safe_load(content)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise Invalid.field("file", f"{where}{problem}.") from exc
    except yaml.YAMLError as exc:
        raise Invalid.field("file", f"Invalid YAML: {exc}.") from exc
    except RecursionError as exc:
        raise Invalid.field("file", f"The file nests deeper than {MAX_DEPTH} levels.") from exc
    return _plain(document, _Budget())


def _pydantic_errors(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        location = [str(part) for part in error["loc"]] or ["file"]
        field = ".".join(location)
        message = "Unknown key." if error["type"] == "extra_forbidden" else error["msg"]
        errors.setdefault(field, []).append(message)
    return errors


def parse_prompt_file(content: str) -> PromptFile:
    """The file's declaration, or `Invalid` naming each bad key."""
    document = load_yaml(content)
    if not isinstance(document, dict):
        raise Invalid.field("file", "A prompt file is a mapping with namespace, name, ….")
    try:
        return PromptFile.model_validate(document)
    except ValidationError as exc:
        errors = _pydantic_errors(exc)
        first, messages = next(iter(errors.items()))
        raise Invalid(f"{first}: {messages[0]}", errors=errors) from exc


class _BlockDumper(yaml.SafeDumper):
    """Multi-line text as `|` blocks (readable diffs); PyYAML falls back to quoting where a
    block cannot hold the text exactly."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _text)


def dump_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)
