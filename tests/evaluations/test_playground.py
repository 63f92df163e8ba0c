"""The playground: a version or a draft run once on `local` (or a real local HTTP server),
recorded and listed for the prompt's readers, rate-limited per person (429 in the API, a
form error on the page), refused to viewers (403) and hidden from outsiders of a private
namespace (404); a call saved as a new case with its output expected."""

from decimal import Decimal

import pytest

from portal.audit.models import AuditEntry
from prompts.evaluations.models import Case, Model, PlaygroundCall, Suite
from prompts.services import version_create
from tests.api.conftest import personal_client, problem
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/prompts/alpha/greet/playground/"
PAGE = "/prompts/alpha/greet/playground/"


class Lab:
    """Private namespace alpha, prompt `greet` v1 "Hello {{name}}" (model_config names
    local), suite `smoke`; `mia` maintainer, `vic` viewer, `olga` an outsider."""

    def __init__(self):
        self.namespace = NamespaceFactory(slug="alpha", visibility="private")
        self.users = {}
        for name, role in (("mia", "maintainer"), ("vic", "viewer"), ("olga", None)):
            self.users[name] = UserFactory(username=name)
            if role:
                MembershipFactory(team=self.namespace.team, user=self.users[name], role=role)
        self.prompt = PromptFactory(namespace=self.namespace, name="greet")
        self.v1 = version_create(
            prompt=self.prompt,
            author=self.users["mia"],
            template="Hello {{name}}",
            variables=["name"],
            model_config={"model": "local", "temperature": 0.2},
        )
        self.suite = Suite.objects.create(
            prompt=self.prompt, name="smoke", created_by=self.users["mia"]
        )
        self.api = {name: personal_client(user) for name, user in self.users.items()}

    def run(self, who="mia", **body):
        body = {"version": 1, "model": "local", "variables": {"name": "Ada"}, **body}
        return self.api[who].post(API, body, format="json")


@pytest.fixture
def lab(db):
    return Lab()


# --- API ------------------------------------------------------------------------------------


def test_a_version_runs_on_local_and_is_recorded(lab):
    answer = lab.run()

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["output"], body["rendered"], body["version"]) == ("Hello Ada", "Hello Ada", 1)
    assert (body["model"], body["offline_echo"], body["user"]) == ("local", True, "mia")
    assert body["input_tokens"] == body["output_tokens"] == 3  # ceil(9 / 4)
    assert body["cost_usd"] == 0
    assert body["latency_ms"] >= 0
    call = PlaygroundCall.objects.get()
    assert (call.pk, call.version, call.variables, call.error) == (
        body["id"],
        lab.v1,
        {"name": "Ada"},
        "",
    )
    entry = AuditEntry.objects.get(action="playground.run")
    assert (entry.actor, entry.namespace, entry.object_id) == ("mia", "alpha", str(call.pk))
    assert entry.after["model"] == "local"


def test_a_draft_template_runs_without_a_version(lab):
    answer = lab.run(version=None, template="Bonjour {{name}} !", variables={"name": "Zoé"})

    assert answer.status_code == 201, answer.content
    assert (answer.json()["output"], answer.json()["version"]) == ("Bonjour Zoé !", None)


def test_wrong_variables_answer_422_and_record_nothing(lab):
    answer = lab.run(variables={"nom": "Ada"})

    assert answer.status_code == 422
    assert "missing: name" in problem(answer)["detail"]
    assert not PlaygroundCall.objects.exists()


def test_an_unknown_model_is_422(lab):
    answer = lab.run(model="gpt-9")

    assert answer.status_code == 422
    assert not PlaygroundCall.objects.exists()


def test_a_provider_failure_is_recorded_with_its_error(lab, settings, httpserver, monkeypatch):
    settings.PROVIDER_ALLOW_PRIVATE = True
    settings.PROVIDER_TIMEOUT_SECONDS = 2
    settings.PROVIDER_MAX_RETRIES = 0
    monkeypatch.setenv("TEST_PLAYGROUND_KEY", "sk-never-shown-0123456789")
    Model.objects.create(
        name="remote-test",
        provider="openai",
        provider_model_id="gpt-test",
        base_url=httpserver.url_for("/v1"),
        api_key_env="TEST_PLAYGROUND_KEY",
        price_in_per_million=Decimal("1"),
    )
    httpserver.expect_request("/v1/chat/completions").respond_with_data("boom", status=500)

    answer = lab.run(model="remote-test")

    assert answer.status_code == 201
    body = answer.json()
    assert body["error"]
    assert "sk-never-shown" not in body["error"]
    assert (body["output"], body["model"]) == ("", "remote-test")
    assert PlaygroundCall.objects.get().error == body["error"]


def test_the_calls_are_listed_for_the_prompts_readers(lab):
    lab.run()

    listed = lab.api["vic"].get(API)

    assert listed.status_code == 200
    assert [c["output"] for c in listed.json()["results"]] == ["Hello Ada"]


def test_a_viewer_may_not_run_it(lab):
    refused = lab.run("vic")

    assert refused.status_code == 403
    assert problem(refused)["code"] == "permission_denied"
    assert not PlaygroundCall.objects.exists()


def test_an_outsider_of_the_private_namespace_gets_404(lab):
    lab.run()

    assert lab.run("olga").status_code == 404
    assert lab.api["olga"].get(API).status_code == 404
    call = PlaygroundCall.objects.get()
    saved = lab.api["olga"].post(f"{API}{call.pk}/save/", {"suite": lab.suite.pk}, format="json")
    assert saved.status_code == 404
    assert PlaygroundCall.objects.count() == 1


def test_the_rate_limit_answers_429(lab, settings):
    settings.PLAYGROUND_RATE = "2/min"

    assert [lab.run().status_code for _ in range(2)] == [201, 201]
    refused = lab.run()

    assert refused.status_code == 429
    assert problem(refused)["code"] == "throttled"
    assert int(refused["Retry-After"]) >= 1
    assert PlaygroundCall.objects.count() == 2
    assert lab.api["mia"].get(API).status_code == 200  # reading is not limited


def test_save_as_case_prefills_an_equals_assertion(lab):
    call = lab.run().json()

    saved = lab.api["mia"].post(f"{API}{call['id']}/save/", {"suite": lab.suite.pk}, format="json")

    assert saved.status_code == 201, saved.content
    case = Case.objects.get(suite=lab.suite)
    assert saved.json()["id"] == case.pk
    assert case.variables == {"name": "Ada"}
    assert case.assertions == [{"type": "equals", "value": "Hello Ada"}]
    assert case.description == f"From playground call {call['id']}"
    assert AuditEntry.objects.filter(action="case.created", object_id=str(case.pk)).exists()


def test_save_as_case_with_contains_and_an_edited_value(lab):
    call = lab.run().json()

    saved = lab.api["mia"].post(
        f"{API}{call['id']}/save/",
        {"suite": lab.suite.pk, "assertion": "contains", "value": "Ada", "description": "greets"},
        format="json",
    )

    assert saved.status_code == 201, saved.content
    assert saved.json()["assertions"] == [{"type": "contains", "value": "Ada"}]


def test_a_viewer_may_not_save_a_case(lab):
    call = lab.run().json()

    refused = lab.api["vic"].post(
        f"{API}{call['id']}/save/", {"suite": lab.suite.pk}, format="json"
    )

    assert refused.status_code == 403
    assert not Case.objects.exists()


def test_a_suite_of_another_prompt_is_422(lab):
    other = PromptFactory(namespace=lab.namespace, name="other")
    foreign = Suite.objects.create(prompt=other, name="smoke", created_by=lab.users["mia"])
    call = lab.run().json()

    refused = lab.api["mia"].post(f"{API}{call['id']}/save/", {"suite": foreign.pk}, format="json")

    assert refused.status_code == 422
    assert not Case.objects.exists()


# --- The page -------------------------------------------------------------------------------


def _form(**extra):
    return {
        "version": "1",
        "template": "",
        "template_format": "mustache",
        "model": "local",
        "variables": '{"name": "Ada"}',
        "model_config": "",
        **extra,
    }


def test_the_page_runs_shows_the_result_and_saves_a_case(lab, client):
    client.force_login(lab.users["mia"])
    page = client.get(PAGE)
    assert page.status_code == 200
    assert 'id="playground-form"' in page.content.decode()
    assert "local (offline echo, not a language model)" in page.content.decode()

    ran = client.post(PAGE, _form())

    call = PlaygroundCall.objects.get()
    assert ran.status_code == 302
    assert ran["Location"] == f"{PAGE}?call={call.pk}#result"
    shown = client.get(f"{PAGE}?call={call.pk}").content.decode()
    assert '<pre class="output" data-output>Hello Ada</pre>' in shown
    assert 'data-figure="input_tokens">3<' in shown
    assert "Save as case" in shown
    assert ">\nHello Ada</textarea>" in shown  # the expected output, pre-filled

    saved = client.post(
        f"{PAGE}{call.pk}/save/",
        {"suite": lab.suite.pk, "assertion": "contains", "value": "Hello Ada"},
    )

    assert saved.status_code == 302
    case = Case.objects.get()
    assert case.assertions == [{"type": "contains", "value": "Hello Ada"}]
    assert "Saved as case 1 of suite smoke" in client.get(saved["Location"]).content.decode()


def test_the_page_runs_a_draft(lab, client):
    client.force_login(lab.users["mia"])

    client.post(PAGE, _form(version="", template="Hi {{name}}"))

    assert PlaygroundCall.objects.get().output == "Hi Ada"


def test_the_page_shows_render_errors_on_the_form(lab, client):
    client.force_login(lab.users["mia"])

    answer = client.post(PAGE, _form(variables='{"nom": "Ada"}'))

    assert answer.status_code == 422
    assert "missing: name" in answer.content.decode()
    assert not PlaygroundCall.objects.exists()


def test_the_page_rate_limit_is_a_form_error(lab, client, settings):
    settings.PLAYGROUND_RATE = "1/min"
    client.force_login(lab.users["mia"])
    assert client.post(PAGE, _form()).status_code == 302

    refused = client.post(PAGE, _form())

    assert refused.status_code == 429
    assert "Too many playground runs; try again in" in refused.content.decode()
    assert PlaygroundCall.objects.count() == 1


def test_a_viewer_sees_the_calls_but_may_not_run(lab, client):
    lab.run()
    client.force_login(lab.users["vic"])

    page = client.get(PAGE).content.decode()
    assert "data-playground-call=" in page
    assert 'id="playground-form"' not in page
    refused = client.post(PAGE, _form())

    assert refused.status_code == 403
    assert PlaygroundCall.objects.count() == 1


def test_an_outsider_gets_404_on_the_page(lab, client):
    client.force_login(lab.users["olga"])

    assert client.get(PAGE).status_code == 404
    assert client.post(PAGE, _form()).status_code == 404
    assert not PlaygroundCall.objects.exists()


def test_the_prompt_page_links_the_playground(lab, client):
    client.force_login(lab.users["vic"])

    page = client.get("/prompts/alpha/greet/").content.decode()

    assert f'href="{PAGE}"' in page
