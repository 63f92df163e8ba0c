"""The README's offline verification example, run as it stands against a real JSON Lines
export: the canonical form it documents is the one the portal seals."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.audit.models import AuditEntry
from tests.audit.conftest import K1, K2, append

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_example() -> str:
    section = README.read_text().split("### Audit chain and exports\n", 1)[1].split("\n### ")[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def _run(folder: Path, **env: str) -> subprocess.CompletedProcess:
    (folder / "verify.py").write_text(_readme_example())
    return subprocess.run(
        [sys.executable, "verify.py"],
        cwd=folder,
        env={"PATH": os.environ.get("PATH", "")} | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def export(tmp_path, staff_api, use_keys):
    """A whole export of entries sealed under k1, then (after a rotation) under k2."""
    assert (
        staff_api.post(
            "/api/v1/teams/", {"slug": "ops", "name": "Öps ✓"}, format="json"
        ).status_code
        == 201
    )
    append(2, justification='Grüße — “quoted”, \\ and "', after={"b": [1, 2.5, None], "a": "é"})
    use_keys("k2", k1=K1, k2=K2)
    append(2, after={"max_tokens": 1e16, "nested": {"z": 1, "y": {"x": True}}, "t": 0.1})
    body = b"".join(staff_api.get("/api/v1/audit/export/?format=jsonl").streaming_content)
    (tmp_path / "audit.jsonl").write_bytes(body)
    return tmp_path


def test_the_readme_example_verifies_a_real_export(export):
    result = _run(export, AUDIT_CHAIN_KEY=f"k2:{K2}", AUDIT_CHAIN_OLD_KEYS=f"k1:{K1}")

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{AuditEntry.objects.count()} entries verified\n"
    assert {"k1", "k2"} == set(AuditEntry.objects.values_list("key_id", flat=True))


def test_the_readme_example_refuses_an_altered_export(export):
    lines = (export / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[2])
    entry["justification"] = "nothing to see here"
    lines[2] = json.dumps(entry, ensure_ascii=False)
    (export / "audit.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = _run(export, AUDIT_CHAIN_KEY=f"k2:{K2}", AUDIT_CHAIN_OLD_KEYS=f"k1:{K1}")

    assert result.returncode == 1
    assert result.stderr.strip() == f"entry #{entry['seq']} does not verify"


def test_the_readme_example_needs_the_old_key_for_entries_it_sealed(export):
    result = _run(export, AUDIT_CHAIN_KEY=f"k2:{K2}")

    assert result.returncode == 1
    assert result.stderr.strip() == "entry #1 does not verify"
