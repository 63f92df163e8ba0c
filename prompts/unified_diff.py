"""The unified text of a version diff, as the API answers it (prompts.diffs builds the
structured diff the pages show). Plain Python."""

import difflib
import json
from typing import Any, Protocol


class Content(Protocol):
    """What `prompts.content.VersionContent` holds, read only."""

    @property
    def kind(self) -> str: ...
    @property
    def template_format(self) -> str: ...
    @property
    def template(self) -> str: ...
    @property
    def messages(self) -> list[dict[str, str]] | None: ...
    @property
    def variables(self) -> list[str]: ...
    @property
    def model_config(self) -> dict[str, Any]: ...


def content_text(content: Content) -> str:
    """The content as plain lines, for the unified diff."""
    if content.kind != "chat":
        return content.template
    blocks = [f"[{message['role']}]\n{message['content']}" for message in content.messages or []]
    return "\n\n".join(blocks)


def settings_text(content: Content) -> str:
    """Everything else that changes behaviour: format, variables and model config."""
    return json.dumps(
        {
            "template_format": content.template_format,
            "variables": content.variables,
            "model_config": content.model_config,
        },
        indent=2,
        sort_keys=True,
        ensure_ascii=False,
    )


def unified(old: str, new: str, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=old_label,
        tofile=new_label,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
