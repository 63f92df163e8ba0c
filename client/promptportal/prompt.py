"""What `Portal.get` returns: one resolved version of a prompt, ready to render."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptportal import rendering

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")


@dataclass(frozen=True, slots=True)
class ResolvedPrompt:
    """A prompt as the portal serves it in an environment (or a pinned version).

    `version` is None only for a fallback given in code (the portal was never reached).
    `experiment` is `{"id", "arm", "version"}` while an experiment splits the environment.
    """

    name: str
    environment: str
    version: int | None
    sha256: str | None
    kind: str
    template: str | None
    messages: list[dict[str, str]] | None
    template_format: str
    variables: list[str]
    model_config: dict[str, Any]
    experiment: dict[str, Any] | None
    deprecation: dict[str, Any] | None
    source: str  # "portal", "snapshot" or "fallback"
    body: dict[str, Any] = field(repr=False)

    @property
    def arm(self) -> str | None:
        return self.experiment["arm"] if self.experiment else None

    def render(self, **variables: Any) -> str | list[dict[str, str]]:
        """The text (or, for a chat prompt, the messages) with `variables` filled in, exactly
        as the portal's render would; missing or unknown variables raise RenderError."""
        return rendering.render(self.body, variables)

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any], *, source: str = "portal") -> ResolvedPrompt:
        return cls(
            name=answer["prompt"],
            environment=answer["environment"],
            version=answer["version"],
            sha256=answer["sha256"],
            kind=answer["kind"],
            template=answer["template"],
            messages=answer["messages"],
            template_format=answer["template_format"],
            variables=list(answer["variables"]),
            model_config=dict(answer["model_config"]),
            experiment=answer.get("experiment"),
            deprecation=answer.get("deprecation"),
            source=source,
            body=dict(answer),
        )

    @classmethod
    def fallback(
        cls, name: str, environment: str, content: str | list[dict[str, str]]
    ) -> ResolvedPrompt:
        """A prompt given in code, served when the portal is unreachable and nothing else is
        known. Its placeholders are the mustache `{{name}}` found in it."""
        chat = not isinstance(content, str)
        texts = [m["content"] for m in content] if chat else [content]
        variables = sorted({name for text in texts for name in PLACEHOLDER.findall(text)})
        body = {
            "prompt": name,
            "environment": environment,
            "version": None,
            "sha256": None,
            "kind": "chat" if chat else "text",
            "template": None if chat else content,
            "messages": list(content) if chat else None,
            "template_format": "mustache",
            "variables": variables,
            "required_variables": variables,
            "model_config": {},
            "includes": {},
            "experiment": None,
            "deprecation": None,
        }
        return cls.from_answer(body, source="fallback")
