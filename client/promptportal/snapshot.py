"""`promptportal snapshot`: every prompt of some namespaces as an environment runs it, in one
file, for deploys that must start without the portal (`Portal(snapshot="prompts.json")`).

The file holds the batch entries themselves (experiment arms included), so a process started
from it serves exactly what the portal served when the snapshot was taken, and the first
revalidation after the portal is back replaces only what changed since.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from promptportal._base import BATCH_PATH, MAX_BATCH, SNAPSHOT_FORMAT
from promptportal.errors import AccessDenied, PortalError


def _checked(response: httpx.Response) -> dict[str, Any]:
    if response.status_code in (401, 403):
        raise AccessDenied(f"The portal refused the token ({response.status_code}).")
    if response.status_code != 200:
        raise PortalError(f"The portal answered {response.status_code}: {response.text[:300]}")
    return response.json()


def prompt_names(http: httpx.Client, namespaces: Iterable[str]) -> list[str]:
    """Every prompt of the namespaces the token can read (all pages)."""
    names: list[str] = []
    for namespace in namespaces:
        page: str | None = f"/api/v1/prompts/?namespace={namespace}"
        while page:
            body = _checked(http.get(page))
            names += [f"{p['namespace']}/{p['name']}" for p in body["results"]]
            page = body.get("next")
    return names


def take(
    *, base_url: str, token: str, namespaces: list[str], environment: str = "production"
) -> dict[str, Any]:
    """The snapshot: entries of every prompt deployed in `environment`, and what was left out
    (not deployed there, retired) by name."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=30.0) as http:
        names = prompt_names(http, namespaces)
        entries, skipped = [], {}
        for i in range(0, len(names), MAX_BATCH):
            chunk = [{"prompt": n, "environment": environment} for n in names[i : i + MAX_BATCH]]
            for item in _checked(http.post(BATCH_PATH, json={"prompts": chunk}))["changed"]:
                if item["status"] == 200:
                    entries.append(item)
                else:
                    skipped[item["prompt"]] = item["problem"]["detail"]
    return {
        "format": SNAPSHOT_FORMAT,
        "portal": base_url,
        "environment": environment,
        "namespaces": sorted(namespaces),
        "taken_at": dt.datetime.now(dt.UTC).isoformat(),
        "entries": entries,
        "skipped": skipped,
    }


def write(snapshot: dict[str, Any], out: str | os.PathLike) -> None:
    """Written to a temporary file and renamed: a reader never sees half a snapshot."""
    path = Path(out)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(snapshot, indent=1, sort_keys=True))
    temporary.replace(path)
