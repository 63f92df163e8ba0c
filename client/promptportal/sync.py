"""Prompts as code from CI: send a folder's prompt files to the portal's `POST /api/v1/sync/`.

The client does not read YAML (it depends on httpx and Jinja2 only): it collects the text of
every `.yaml`/`.yml` file under the folder with its relative path, and the portal parses,
checks and applies them, answering a report per file. A file that is not UTF-8 text is sent
without its content, marked `not_utf8`: the portal reports it invalid and syncs the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from promptportal.errors import AccessDenied, PortalError

SUFFIXES = (".yaml", ".yml")


class SyncFailed(PortalError):
    """The portal refused the sync request as a whole (malformed, too large, bad promote)."""

    def __init__(self, message: str, status: int, problem: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem or {}


def collect(directory: Path) -> list[dict[str, Any]]:
    """`[{"path": "support/refund-reply.yaml", "content": "…"}, …]`: every YAML file under
    `directory` (hidden folders such as `.git` skipped), paths relative and "/"-separated;
    one that is not UTF-8 as `{"path": …, "content": "", "not_utf8": True}`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(str(directory))
    files = []
    for file in sorted(directory.rglob("*")):
        relative = file.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if file.is_file() and file.suffix in SUFFIXES:
            path = relative.as_posix()
            try:
                files.append({"path": path, "content": file.read_text("utf-8")})
            except UnicodeDecodeError:
                files.append({"path": path, "content": "", "not_utf8": True})
    return files


def sync(
    *,
    base_url: str,
    token: str,
    directory: Path,
    dry_run: bool = False,
    promote: str | None = None,
    justification: str = "",
    timeout: float = 30.0,
) -> dict[str, Any]:
    """The portal's report: `{"ok", "summary", "results": [...], …}`. Raises `AccessDenied`
    (401/403) or `SyncFailed` (any other refusal of the whole request)."""
    body = {
        "files": collect(directory),
        "dry_run": dry_run,
        "promote": promote,
        "justification": justification,
    }
    url = base_url.rstrip("/")
    if not url.endswith("/api/v1"):
        url += "/api/v1"
    try:
        response = httpx.post(
            f"{url}/sync/",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise SyncFailed(f"The portal could not be reached: {exc}", status=0) from exc
    if response.status_code == 200:
        return response.json()
    problem = _problem(response)
    detail = problem.get("detail") or response.text[:500]
    message = f"The portal refused the sync ({response.status_code}): {detail}"
    if response.status_code in (401, 403):
        raise AccessDenied(message)
    raise SyncFailed(message, status=response.status_code, problem=problem)


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def report_lines(result: dict[str, Any]) -> list[str]:
    """The report as text: one line per file (and per problem, suite and promotion), then the
    summary."""
    lines = []
    for item in result.get("results", []):
        status, what = item["status"], item.get("prompt") or ""
        if status == "created":
            what += f" v{item.get('version')}"
        elif status == "updated":
            what += f" ({', '.join(item.get('changes') or [])})"
            if "version" in (item.get("changes") or []):
                what += f" v{item.get('previous_version')} → v{item.get('version')}"
        lines.append(f"{status:<9} {item['path']}  {what}".rstrip())
        for field, messages in (item.get("errors") or {}).items():
            lines += [f"          {field}: {message}" for message in messages]
        for suite in item.get("suites") or []:
            lines.append(f"          suite {suite['name']}: {suite['status']}")
        if item.get("promotion"):
            lines.append(f"          promotion: {_promotion(item['promotion'])}")
    summary = result.get("summary", {})
    lines.append(
        ("Dry run (nothing changed): " if result.get("dry_run") else "")
        + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in summary.items())
        + "."
    )
    return lines


def _promotion(promotion: dict[str, Any]) -> str:
    text = f"v{promotion['version']} to {promotion['environment']}: {promotion['status']}"
    if promotion.get("request"):
        text += f" (request #{promotion['request']}"
        if promotion.get("opened"):
            text += f", {promotion.get('required_approvals')} approvals needed"
        text += ")"
    if promotion.get("error"):
        text += f": {promotion['error']}"
    return text
