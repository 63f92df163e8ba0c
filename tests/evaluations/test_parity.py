"""Parity with the real promptfoo (0.121.20, its offline `echo` provider): three promptfoo
configs in tests/evaluations/parity/ run through the promptfoo CLI and, imported unchanged,
as suites here on the `local` model (echo too: the output is the rendered prompt). Every case
must pass or fail alike, with the same score. Our export of a suite, run by promptfoo, gives
the same results again (the API's export is the same function, round-tripped in
test_suites_api).

scripts/test.sh installs the CLI (tests/evaluations/promptfoo/package-lock.json) in the
background when it is missing; this test waits for that install."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from rest_framework.test import APIClient

from prompts.evaluations import promptfoo
from prompts.services import version_create
from tests.factories import PromptFactory

pytestmark = pytest.mark.django_db

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CLI = HERE / "promptfoo" / "node_modules" / ".bin" / "promptfoo"
INSTALL_LOCK = ROOT / "var" / "promptfoo-install.lock"
SUITES = ("strings", "json", "limits")
INSTALL_WAIT_SECONDS = 600


def _cli() -> Path:
    deadline = time.monotonic() + INSTALL_WAIT_SECONDS
    while INSTALL_LOCK.exists() and time.monotonic() < deadline:
        time.sleep(2)
    if not CLI.exists():
        pytest.fail(
            "promptfoo is not installed: run the tests through scripts/test.sh (make test), "
            "which installs it in tests/evaluations/promptfoo (log: var/promptfoo-install.log)."
        )
    return CLI


def _start(cli: Path, config: Path, workdir: Path) -> tuple[subprocess.Popen, Path]:
    out = workdir / f"{config.stem}.out.json"
    env = {
        **os.environ,
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_DISABLE_SHARING": "1",
        "PROMPTFOO_CONFIG_DIR": str(workdir / f".promptfoo-{config.stem}"),  # one each: no races
        "NO_COLOR": "1",
    }
    command = [str(cli), "eval", "-c", str(config), "-o", str(out), "--no-cache"]
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    return process, out


def _outcomes(out: Path) -> list[tuple[bool, float]]:
    results = json.loads(out.read_text())["results"]["results"]
    ordered = sorted(results, key=lambda result: result["testIdx"])
    return [(result["success"], result["gradingResult"]["score"]) for result in ordered]


def _exported(name: str, workdir: Path) -> Path:
    """The config as we export it after import (cases only), with its prompt and provider."""
    original = yaml.safe_load((HERE / "parity" / f"{name}.yaml").read_text())
    parsed = promptfoo.parse(
        format="promptfoo", content=(HERE / "parity" / f"{name}.yaml").read_text()
    )
    config = yaml.safe_load(
        promptfoo.export(description=parsed.description, cases=parsed.cases, format="promptfoo")
    )
    config.update(prompts=original["prompts"], providers=original["providers"])
    path = workdir / f"{name}-exported.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def promptfoo_runs(tmp_path_factory) -> dict[str, list[tuple[bool, float]]]:
    """promptfoo's verdict per test, for each config and for our export of `strings` (all
    evaluated at once: each start of the CLI costs seconds)."""
    cli = _cli()
    workdir = tmp_path_factory.mktemp("promptfoo")
    configs = {name: HERE / "parity" / f"{name}.yaml" for name in SUITES}
    configs["strings-exported"] = _exported("strings", workdir)
    started = {name: _start(cli, config, workdir) for name, config in configs.items()}
    outcomes = {}
    for name, (process, out) in started.items():
        log, _ = process.communicate(timeout=300)
        assert out.exists(), f"promptfoo wrote no results for {name}:\n{log.decode()[-3000:]}"
        outcomes[name] = _outcomes(out)
    return outcomes


@pytest.fixture
def maintainer(author):
    client = APIClient()
    client.force_authenticate(author)
    return client


def _ours(name, *, client, namespace, author, capture) -> tuple[dict, list[tuple[bool, float]]]:
    text = (HERE / "parity" / f"{name}.yaml").read_text()
    config = yaml.safe_load(text)
    variables = set((config.get("defaultTest") or {}).get("vars") or {})
    for test in config["tests"]:
        variables |= set(test.get("vars") or {})
    prompt = PromptFactory(namespace=namespace, name=f"parity-{name}")
    version_create(
        prompt=prompt, author=author, template=config["prompts"][0], variables=sorted(variables)
    )
    base = f"/api/v1/prompts/{namespace.slug}/{prompt.name}/suites/"
    imported = client.post(
        f"{base}import/", {"name": name, "format": "promptfoo", "content": text}, format="json"
    )
    assert imported.status_code == 201, imported.content
    assert imported.json()["warnings"] == []
    suite = imported.json()["suite"]
    body = {"prompt": prompt.full_name, "version": 1, "suite": suite["id"], "model": "local"}
    with capture(execute=True):
        started = client.post("/api/v1/evaluations/", body, format="json")
    assert started.status_code == 202, started.content
    run = client.get(f"/api/v1/evaluations/{started.json()['id']}/").json()
    assert run["state"] in {"passed", "failed"}, run
    results = sorted(run["results"], key=lambda result: result["position"])
    return suite, [(result["passed"], result["score"]) for result in results]


@pytest.mark.parametrize("name", SUITES)
def test_local_model_gives_promptfoos_verdict_and_score_per_case(
    name, promptfoo_runs, maintainer, namespace, author, django_capture_on_commit_callbacks
):
    _, ours = _ours(
        name,
        client=maintainer,
        namespace=namespace,
        author=author,
        capture=django_capture_on_commit_callbacks,
    )
    theirs = promptfoo_runs[name]
    assert len(ours) == len(theirs)
    assert [passed for passed, _ in ours] == [passed for passed, _ in theirs]
    assert [score for _, score in ours] == pytest.approx([score for _, score in theirs])
    assert {passed for passed, _ in theirs} == {True, False}  # each config tells both apart


def test_our_export_runs_in_promptfoo_with_the_same_results(promptfoo_runs):
    """Imported then exported (defaultTest merged into every test), the file gives promptfoo
    the same verdicts and scores as the original."""
    again, original = promptfoo_runs["strings-exported"], promptfoo_runs["strings"]
    assert [passed for passed, _ in again] == [passed for passed, _ in original]
    assert [score for _, score in again] == pytest.approx([score for _, score in original])
