"""The acceptance of the Langfuse issue: examples/langfuse_governed.py, which uses only the
`langfuse` SDK, against gunicorn on the demo data (as after `make run`). It fetches and
compiles the production prompt, creates a version meant for production, and production does
not move until reviewers approve: bob for staging (the step production requires first, which
the label requests), then frank and grace for production (requested by itself once staging
applied), in the portal's workflow (its services, here). The script sets the label once."""

import io
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from approvals.models import PromotionRequest
from approvals.services import promotion_approve
from prompts.models import Deployment
from teams.tokens import personal_token_create
from tests.live import ROOT, Server, process_environment

pytestmark = pytest.mark.django_db(transaction=True)
SCRIPT = ROOT / "examples" / "langfuse_governed.py"


def _approve(environment: str, *usernames: str) -> PromotionRequest:
    request = PromotionRequest.objects.get(
        prompt__namespace__slug="support",
        prompt__name="greeting",
        environment__slug=environment,
        state=PromotionRequest.State.PENDING,
    )
    for username in usernames:
        reviewer = get_user_model().objects.get(username=username)
        promotion_approve(actor=reviewer, request=request, comment="Reads well.")
    request.refresh_from_db()
    return request


def test_langfuse_sdk_code_meets_governance_on_the_demo():
    call_command("bootstrap_demo", stdout=io.StringIO())
    alice = get_user_model().objects.get(username="alice")
    _, token = personal_token_create(actor=alice, name="langfuse")
    server = Server(process_environment(settings.REDIS_URL)).start()
    env = {
        **server.env,
        "LANGFUSE_BASE_URL": server.url,
        "LANGFUSE_PUBLIC_KEY": token.partition(".")[0],
        "LANGFUSE_SECRET_KEY": token,
    }
    script = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--wait", "60", "--poll", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(150, script.kill)
    watchdog.start()
    lines = []
    try:
        for line in script.stdout:
            lines.append(line.rstrip())
            if line.startswith("production still runs"):
                production = Deployment.objects.get(
                    prompt__name="greeting", environment__slug="production"
                )
                assert f"v{production.version.number}" in line
            if line.startswith("waiting for the reviewers"):
                assert _approve("staging", "bob").state == PromotionRequest.State.APPLIED
                pending = _approve("production", "frank")  # opened when staging applied
                assert pending.state == PromotionRequest.State.PENDING  # one is not enough
                assert _approve("production", "grace").state == PromotionRequest.State.APPLIED
        code = script.wait(timeout=30)
    finally:
        watchdog.cancel()
        script.kill()
        server.stop()

    output = "\n".join(lines)
    assert code == 0, output + script.stderr.read()
    assert lines[0] == "production runs support/greeting v1: 'Hello Ada, how can I help you today?'"
    assert "labels it holds now: ['latest']" in output
    new = Deployment.objects.get(prompt__name="greeting", environment__slug="production")
    assert lines[-1] == (
        f"production runs v{new.version.number}: "
        "'Hello Ada, good to see you again. How can we help today?'"
    )
