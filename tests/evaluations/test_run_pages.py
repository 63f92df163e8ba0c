"""The run pages: a prompt's runs with the "Run this suite" form, the run page whose progress
bar polls (HTMX) until the run finishes, per-case results with the rendered prompt, the output
and why an assertion failed, the cancel button; who may see and do what."""

import pytest

from prompts.evaluations import runs
from prompts.evaluations.models import Model, Run, Suite
from prompts.services import version_create
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/prompts/shop/greet/evaluations/"


@pytest.fixture
def shop():
    namespace = NamespaceFactory(slug="shop", visibility="private")
    people = {name: UserFactory(username=name) for name in ("mae", "vic", "out")}
    MembershipFactory(team=namespace.team, user=people["mae"], role="maintainer")
    MembershipFactory(team=namespace.team, user=people["vic"], role="viewer")
    prompt = PromptFactory(namespace=namespace, name="greet")
    version = version_create(
        prompt=prompt, author=people["mae"], template="Hello {{name}}!", variables=["name"]
    )
    suite = Suite.objects.create(prompt=prompt, name="smoke", created_by=people["mae"])
    suite.cases.create(
        position=1, variables={"name": "Ada"}, assertions=[{"type": "contains", "value": "Ada"}]
    )
    suite.cases.create(
        position=2,
        variables={"name": "Bob"},
        assertions=[{"type": "icontains", "value": "farewell"}],
        description="says goodbye",
    )
    return {"prompt": prompt, "version": version, "suite": suite, "people": people}


def queue(shop) -> Run:
    return runs.run_create(
        actor=shop["people"]["mae"],
        prompt=shop["prompt"],
        version=shop["version"],
        suite=shop["suite"],
        model=Model.objects.get(name="local"),
    )


def test_a_maintainer_runs_a_suite_from_the_form_and_sees_the_results(
    client, shop, django_capture_on_commit_callbacks
):
    client.force_login(shop["people"]["mae"])
    page = client.get(LIST).content.decode()
    assert "Run this suite" in page
    assert "local (offline echo, not a language model)" in page

    form = {"version": "1", "suite": str(shop["suite"].pk), "model": "local"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(LIST, form)
    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/evaluations/runs/{run.pk}/"

    page = client.get(response["Location"]).content.decode()
    assert 'data-state="failed"' in page
    assert 'hx-trigger="every 1s"' not in page  # finished: the page stops polling
    assert '<progress id="run-bar" max="2" value="2">100 %</progress>' in page
    assert "offline echo, not a language model" in page
    assert "Hello Ada!" in page  # the rendered prompt and its echo
    assert "Case 2: says goodbye — failed" in page
    assert "farewell" in page
    assert "pass rate 50 %" in page
    assert "Cancel this run" not in page
    listed = client.get(LIST).content.decode()
    assert f'href="/evaluations/runs/{run.pk}/"' in listed


def test_a_queued_run_page_polls_its_progress_until_it_finishes(client, shop):
    run = queue(shop)
    client.force_login(shop["people"]["vic"])
    page = client.get(f"/evaluations/runs/{run.pk}/").content.decode()
    assert f'hx-get="/evaluations/runs/{run.pk}/progress/"' in page
    assert 'hx-trigger="every 1s"' in page
    assert "0 / 2" in page
    assert "Cancel this run" not in page  # a viewer reads only

    runs.run_execute(run_id=run.pk)
    partial = client.get(f"/evaluations/runs/{run.pk}/progress/").content.decode()
    assert partial.startswith('<div id="run-progress" data-state="failed"')
    assert "hx-trigger" not in partial
    assert "2 / 2" in partial
    assert "Hello Bob!" in partial


def test_a_maintainer_cancels_a_run_from_its_page(client, shop):
    run = queue(shop)
    client.force_login(shop["people"]["mae"])
    assert "Cancel this run" in client.get(f"/evaluations/runs/{run.pk}/").content.decode()

    response = client.post(f"/evaluations/runs/{run.pk}/cancel/")
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.state == "cancelled"
    again = client.post(f"/evaluations/runs/{run.pk}/cancel/", follow=True)
    assert "already finished" in again.content.decode()


def test_a_viewer_may_not_run_or_cancel(client, shop):
    run = queue(shop)
    client.force_login(shop["people"]["vic"])
    page = client.get(LIST).content.decode()
    assert "Run this suite" not in page
    form = {"version": "1", "suite": str(shop["suite"].pk), "model": "local"}
    assert client.post(LIST, form).status_code == 403
    assert client.post(f"/evaluations/runs/{run.pk}/cancel/").status_code == 403
    run.refresh_from_db()
    assert run.state == "queued"
    assert Run.objects.count() == 1


def test_a_bad_choice_is_a_form_error(client, shop):
    client.force_login(shop["people"]["mae"])
    response = client.post(LIST, {"version": "7", "suite": str(shop["suite"].pk), "model": "x"})
    assert response.status_code == 422
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", LIST),
        ("post", LIST),
        ("get", "/evaluations/runs/{id}/"),
        ("get", "/evaluations/runs/{id}/progress/"),
        ("post", "/evaluations/runs/{id}/cancel/"),
    ],
)
def test_an_outsider_meets_404_and_anonymous_the_login(client, shop, method, path):
    run = queue(shop)
    url = path.format(id=run.pk)
    assert getattr(client, method)(url).status_code == 302  # to the login page
    client.force_login(shop["people"]["out"])
    assert getattr(client, method)(url).status_code == 404
    run.refresh_from_db()
    assert run.state == "queued"
    assert Run.objects.count() == 1
