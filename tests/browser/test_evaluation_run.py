"""The run page watched in a browser: a run whose task is still owed (the broker was down when
it was queued, so the outbox holds it) shows an empty progress bar and polls; once the outbox
delivers the task (as the beat drain does; eager here), the bar reaches 100 % and the per-case
results appear, without a reload, and the page stops polling."""

import pytest
from playwright.sync_api import expect

from portal import outbox
from portal.cache import broker_breaker
from portal.models import OutboxMessage
from prompts.evaluations import runs
from prompts.evaluations.models import Model, Run, Suite

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_progress_bar_fills_and_the_results_appear_without_a_reload(
    page, sign_in, prompt, make_version, author
):
    version = make_version(prompt, text="Hello {{name}}!")
    suite = Suite.objects.create(prompt=prompt, name="smoke", created_by=author)
    for position, (name, expected) in enumerate((("Ada", "Ada"), ("Bob", "Bob"), ("Cy", "Zed")), 1):
        suite.cases.create(
            position=position,
            variables={"name": name},
            assertions=[{"type": "contains", "value": expected}],
        )
    broker_breaker.trip(OSError("the broker is down"))  # the task stays owed in the outbox
    run = runs.run_create(
        actor=author,
        prompt=prompt,
        version=version,
        suite=suite,
        model=Model.objects.get(name="local"),
    )
    assert OutboxMessage.objects.filter(kind="task").count() == 1

    sign_in("author")
    page.goto(f"/evaluations/runs/{run.pk}/")
    progress = page.locator("#run-progress")
    expect(progress).to_have_attribute("data-state", "queued")
    expect(page.locator("#run-count")).to_have_text("0 / 3")
    expect(page.locator("#offline-echo")).to_contain_text("offline echo, not a language model")
    expect(page.locator("article.case-result")).to_have_count(0)
    page.evaluate("window.sameDocument = true")

    broker_breaker.close()
    assert outbox.drain() == 1  # what the beat task does: the task runs (eager in tests)
    assert Run.objects.get(pk=run.pk).state == "failed"

    expect(page.locator("#run-bar")).to_have_attribute("value", "3", timeout=5_000)
    expect(page.locator("#run-percent")).to_have_text("100 %")
    expect(progress).to_have_attribute("data-state", "failed")
    expect(page.locator("#run-state")).to_have_text("Failed")
    cases = page.locator("article.case-result")
    expect(cases).to_have_count(3)
    expect(cases.nth(0)).to_contain_text("Hello Ada!")
    expect(cases.nth(2)).to_contain_text("failed")
    expect(cases.nth(2).locator(".assertion-failed")).to_contain_text("Zed")
    assert page.evaluate("window.sameDocument") is True  # no reload
    expect(progress).not_to_have_attribute("hx-trigger", "every 1s")  # polling stopped
    expect(page.get_by_role("button", name="Cancel this run")).to_have_count(0)
