"""The README's walk-through, run as written: every shell block marked `<!-- walkthrough -->`
(the *First ten minutes* section and the resolve example that continues it), in order and in
one bash session, against gunicorn on the test database seeded by `bootstrap_demo`, as after a
fresh `make run`. Only the base URL (`API=`) is pointed at the live server; the `manage.py`
commands run with the server's environment, so they share its database and cache.
"""

import io
import re
import subprocess

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.live import ROOT, Server, process_environment

pytestmark = pytest.mark.django_db(transaction=True)

README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- walkthrough -->\n```sh\n(.*?)```\n", re.S)
BASE = "API=http://127.0.0.1:8000/api/v1"


def walkthrough_blocks() -> list[str]:
    return BLOCK.findall(README.read_text())


def test_the_walkthrough_blocks_are_marked_and_stop_on_http_errors():
    blocks = walkthrough_blocks()
    script = "\n".join(blocks)

    assert len(blocks) >= 6
    assert script.count(BASE) == 1, "one base URL line, which the test points at its server"
    assert blocks[0].startswith(BASE)
    curls = re.findall(r"\bcurl\b[^\n]*", script)
    assert curls
    assert all(" -fsS " in f"{curl} " for curl in curls), curls


def test_the_readme_walkthrough_runs_as_written_against_a_live_server(tmp_path):
    call_command("bootstrap_demo", stdout=io.StringIO())
    env = process_environment(settings.REDIS_URL)
    server = Server(env).start()
    try:
        script = "\n".join(walkthrough_blocks()).replace(BASE, f"API={server.url}/api/v1")
        (tmp_path / "walkthrough.sh").write_text(
            "set -euo pipefail\n"
            "trap 'echo \"walk-through command failed: $BASH_COMMAND\" >&2' ERR\n" + script
        )
        result = subprocess.run(
            ["bash", str(tmp_path / "walkthrough.sh")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.stop()

    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    out = result.stdout
    assert '"state":"applied"' in out  # bob's approval applied the staging request
    assert "Hello Ada, a friendly reminder: invoice INV-7 is due." in out
    assert "Hi Ada! Thanks for contacting Acme. How can I help?" in out
    assert "Hello Ada, how can I help you today?" in out  # production's v1: `name` only
