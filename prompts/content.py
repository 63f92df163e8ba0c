"""What a version holds, checked and put in canonical form, and its sha256."""

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from portal.errors import ErrorCode, Invalid
from portal.validation import check_json_value, check_text
from prompts.templating import IDENTIFIER, TEMPLATE_FORMATS, placeholders

CHAT_ROLES = ("system", "user", "assistant", "tool")
MAX_MESSAGES = 200

# Known model_config keys and the checks their values must pass; other keys pass through.
_NUMBER_RANGES = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}


@dataclass(frozen=True)
class VersionContent:
    kind: str
    template_format: str
    template: str
    messages: list[dict[str, str]] | None
    variables: list[str]
    model_config: dict[str, Any]

    def canonical(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "template_format": self.template_format,
            "variables": self.variables,
            "model_config": self.model_config,
        }
        if self.kind == "chat":
            body["messages"] = self.messages
        else:
            body["template"] = self.template
        return body

    @property
    def sha256(self) -> str:
        encoded = json.dumps(
            self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        return hashlib.sha256(encoded).hexdigest()

    @property
    def search_text(self) -> str:
        """The words a search matches: the template, or the messages' texts (not their JSON)."""
        return "\n\n".join(self.sources())

    def sources(self) -> list[str]:
        if self.kind == "chat":
            return [message["content"] for message in self.messages or []]
        return [self.template]


def _normalize_messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise Invalid.field("messages", "A chat prompt needs a non-empty list of messages.")
    if len(messages) > MAX_MESSAGES:
        raise Invalid.field("messages", f"At most {MAX_MESSAGES} messages are allowed.")
    normalized = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            raise Invalid.field(
                "messages", f"Message {index} must be an object with exactly 'role' and 'content'."
            )
        role, content = message["role"], message["content"]
        if role not in CHAT_ROLES:
            raise Invalid.field(
                "messages",
                f"Message {index} has role {role!r}; use one of {', '.join(CHAT_ROLES)}.",
            )
        if not isinstance(content, str) or not content.strip():
            raise Invalid.field("messages", f"Message {index} needs non-empty text content.")
        check_text(content, field="messages")
        normalized.append({"role": role, "content": content})
    return normalized


def _normalize_variables(variables: Any) -> list[str]:
    if variables is None:
        return []
    if not isinstance(variables, list | tuple):
        raise Invalid.field("variables", "Variables must be a list of names.")
    bad = [name for name in variables if not isinstance(name, str) or not IDENTIFIER.match(name)]
    if bad:
        raise Invalid.field(
            "variables",
            "Variable names are letters, digits and underscores, not starting with a digit: "
            + ", ".join(repr(name) for name in bad),
        )
    if len(set(variables)) != len(variables):
        raise Invalid.field("variables", "Each variable may be declared once.")
    return sorted(variables)


def _normalize_model_config(model_config: Any) -> dict[str, Any]:
    if model_config is None:
        return {}
    if not isinstance(model_config, dict):
        raise Invalid.field("model_config", "model_config must be a JSON object.")
    check_json_value(model_config, field="model_config")
    problems = []
    model = model_config.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        problems.append("'model' must be a non-empty string.")
    for key, (low, high) in _NUMBER_RANGES.items():
        value = model_config.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            problems.append(f"'{key}' must be a number from {low} to {high}.")
    max_tokens = model_config.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        problems.append("'max_tokens' must be a positive integer.")
    if problems:
        raise Invalid("The model configuration is invalid.", errors={"model_config": problems})
    try:
        encoded = json.dumps(model_config, allow_nan=False, ensure_ascii=False)
    except ValueError as exc:
        raise Invalid.field("model_config", "model_config must be finite JSON.") from exc
    check_text(
        encoded, field="model_config", limit=settings.MAX_TEMPLATE_BYTES, what="model_config"
    )
    return model_config


def build_content(
    *,
    kind: str,
    template: str | None,
    messages: Any,
    template_format: str,
    variables: Any,
    model_config: Any,
) -> VersionContent:
    """Check a version's content and return it normalized. Raises `Invalid` naming the field."""
    if template_format not in TEMPLATE_FORMATS:
        raise Invalid.field(
            "template_format",
            f"Use one of {', '.join(TEMPLATE_FORMATS)}.",
            code=ErrorCode.INVALID_CHOICE,
        )
    if kind == "chat":
        if template:
            raise Invalid.field("template", "A chat prompt takes 'messages', not 'template'.")
        normalized_messages, normalized_template = _normalize_messages(messages), ""
    else:
        if messages is not None:
            raise Invalid.field("messages", "A text prompt takes 'template', not 'messages'.")
        if not isinstance(template, str) or not template.strip():
            raise Invalid.field("template", "A text prompt needs a non-empty template.")
        check_text(template, field="template")
        normalized_messages, normalized_template = None, template
    content = VersionContent(
        kind=kind,
        template_format=template_format,
        template=normalized_template,
        messages=normalized_messages,
        variables=_normalize_variables(variables),
        model_config=_normalize_model_config(model_config),
    )
    size = sum(len(source.encode()) for source in content.sources())
    if size > settings.MAX_TEMPLATE_BYTES:
        field = "messages" if kind == "chat" else "template"
        raise Invalid.field(
            field,
            f"The {'messages are' if kind == 'chat' else 'template is'} {size} bytes; "
            f"at most {settings.MAX_TEMPLATE_BYTES} are allowed.",
            code=ErrorCode.TOO_LARGE,
        )
    _check_variables_match(content)
    return content


def _check_variables_match(content: VersionContent) -> None:
    used = placeholders(content.template_format, content.sources())
    declared = set(content.variables)
    undeclared, unused = sorted(used - declared), sorted(declared - used)
    if not undeclared and not unused:
        return
    problems = []
    if undeclared:
        problems.append(f"used in the template but not declared: {', '.join(undeclared)}")
    if unused:
        problems.append(f"declared but not used in the template: {', '.join(unused)}")
    raise Invalid(
        "The declared variables do not match the template: " + "; ".join(problems) + ".",
        errors={"variables": problems},
        code=ErrorCode.VARIABLES_MISMATCH,
    )
