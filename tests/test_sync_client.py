"""The client's `promptportal.sync` (what `promptportal sync DIR` runs in CI) against gunicorn
on the test database: it sends the folder's text, the portal answers the report."""

import pytest
from django.conf import settings

from approvals.models import PromotionRequest
from promptportal import cli
from promptportal import sync as client_sync
from prompts.models import PromptVersion
from teams.tokens import personal_token_create
from tests.live import Server, process_environment
from tests.test_sync import REPLY, SUITE, write

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_client_syncs_a_folder_and_opens_promotion_requests(tmp_path, author, capsys):
    _, token = personal_token_create(actor=author, name="ci")
    folder = write(
        tmp_path,
        {
            "support/refund-reply.yaml": REPLY + "suites: {smoke: smoke.promptfoo.yaml}\n",
            "support/smoke.promptfoo.yaml": SUITE,
            "support/broken.yaml": "namespace: support\nname: broken\nkind: poem\n",
            ".github/workflows/ci.yml": "on: push\n",  # hidden folders are not sent
            "notes.txt": "not sent",
        },
    )
    (folder / "support/latin1.yaml").write_bytes("name: café\n".encode("latin-1"))
    assert client_sync.collect(folder) == [
        {
            "path": "support/broken.yaml",
            "content": "namespace: support\nname: broken\nkind: poem\n",
        },
        {"path": "support/latin1.yaml", "content": "", "not_utf8": True},
        {
            "path": "support/refund-reply.yaml",
            "content": REPLY + "suites: {smoke: smoke.promptfoo.yaml}\n",
        },
        {"path": "support/smoke.promptfoo.yaml", "content": SUITE},
    ]
    server = Server(process_environment(settings.REDIS_URL)).start()
    try:
        plan = client_sync.sync(base_url=server.url, token=token, directory=folder, dry_run=True)
        command = ["sync", str(folder), "--url", server.url, "--token", token, "--dry-run"]
        exit_status = cli.main(command)
        result = client_sync.sync(
            base_url=server.url,
            token=token,
            directory=folder,
            promote="staging",
            justification="merged to main",
        )
        with pytest.raises(client_sync.AccessDenied):
            client_sync.sync(base_url=server.url, token="nope", directory=folder)
    finally:
        server.stop()

    assert plan["dry_run"] is True
    assert exit_status == 1  # an invalid file
    assert "invalid   support/latin1.yaml" in capsys.readouterr().out
    assert [r["status"] for r in plan["results"]] == ["invalid", "invalid", "created"]
    assert result["summary"]["created"] == 1
    assert result["summary"]["promotions_opened"] == 1
    assert result["ok"] is False  # broken.yaml and latin1.yaml: `promptportal sync` exits 1
    lines = client_sync.report_lines(result)
    assert lines[0] == "invalid   support/broken.yaml"
    assert lines[1] == "          kind: Input should be 'text' or 'chat'"
    assert lines[2] == "invalid   support/latin1.yaml"
    assert lines[3] == "          file: support/latin1.yaml is not UTF-8 text; save it as UTF-8."
    assert lines[4] == "created   support/refund-reply.yaml  support/refund-reply v1"
    assert lines[5] == "          suite smoke: created"
    assert lines[6].startswith("          promotion: v1 to staging: pending (request #")
    assert lines[-1] == (
        "1 created, 0 updated, 0 unchanged, 2 invalid, 1 promotions opened, 0 promotions failed."
    )
    assert PromptVersion.objects.get().author == author
    assert PromotionRequest.objects.get().state == "pending"
