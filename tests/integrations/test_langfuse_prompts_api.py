"""The Langfuse prompt API's input handling and shapes, through the DRF test client (the SDK's
own calls are in test_langfuse_prompts.py): bad input is a 400 naming the field, never a 500;
the list answers in a constant number of queries."""

import pytest
from rest_framework.test import APIClient

from integrations.langfuse import labels, prompts_write
from portal.audit.models import AuditEntry
from portal.errors import Conflict
from portal.transactions import atomic_write
from prompts.models import Environment, PromptVersion
from prompts.services import deployment_set, prompt_update, version_create
from teams.tokens import personal_token_create
from tests.factories import PromptFactory, system_actor

pytestmark = pytest.mark.django_db

BASE = "/api/public/v2/prompts"


@pytest.fixture
def admin():
    return system_actor()


@pytest.fixture
def client(admin):
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {personal_token_create(actor=admin, name='t')[1]}"
    )
    return client


@pytest.fixture
def refund(namespace, admin):
    signature = PromptFactory(namespace=namespace, name="signature")
    version_create(prompt=signature, author=admin, template="The {{team}} team", variables=["team"])
    prompt = PromptFactory(namespace=namespace, name="refund-reply", tags=["billing"])
    version_create(
        prompt=prompt,
        author=admin,
        template="Hi {{customer}}. {{> support/signature}}",
        variables=["customer"],
    )
    for target in (signature, prompt):
        deployment_set(
            prompt=target,
            environment=Environment.objects.get(slug="production"),
            version=target.versions.get(),
            actor=admin,
            action="deployment.seeded",
        )
    return prompt


def _field_error(response, field):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "InvalidRequestError"
    assert field in body["errors"], body
    return body


def test_the_prompt_is_served_with_its_includes_inlined(client, refund):
    body = client.get(f"{BASE}/support%2Frefund-reply").json()

    assert body["prompt"] == "Hi {{customer}}. The {{team}} team"
    assert (body["type"], body["version"], body["tags"]) == ("text", 1, ["billing"])
    assert body["labels"] == ["production", "latest"]
    assert body["projectId"] == "prompt-portal"


def test_a_label_and_a_version_together_are_refused(client, refund):
    _field_error(client.get(f"{BASE}/support%2Frefund-reply?label=production&version=1"), "version")


@pytest.mark.parametrize(
    "path",
    [
        "refund-reply",
        "support%2Frefund-reply?label=nowhere",
        "support%2Frefund-reply?version=9",
        "support%2Frefund-reply%2Fextra",
        "Support%2FRefund",
    ],
)
def test_names_labels_and_versions_that_name_nothing_are_not_found(client, refund, path):
    response = client.get(f"{BASE}/{path}")

    assert response.status_code == 404
    assert response.json()["error"] == "LangfuseNotFoundError"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "support/new-one", "prompt": 3}, "prompt"),
        ({"name": "nonamespace", "prompt": "x"}, "name"),
        ({"name": "support/new-one", "prompt": "x", "config": [1]}, "config"),
        ({"name": "support/new-one", "prompt": "x", "labels": ["moon"]}, "labels"),
        ({"name": "support/new-one", "prompt": "{{ bad tag"}, "prompt"),
        ({"name": "support/new-one", "prompt": "x", "tags": ["Not A Slug"]}, "tags"),
        ({"name": "support/new-one", "prompt": "x", "config": {"temperature": 9}}, "config"),
        ({"name": "support/new-one", "type": "chat", "prompt": "text"}, "prompt"),
        (
            {
                "name": "support/new-one",
                "type": "chat",
                "prompt": [{"role": "user", "content": "hi"}, {"type": "placeholder", "name": "h"}],
            },
            "prompt",
        ),
        (
            {
                "name": "support/new-one",
                "type": "chat",
                "prompt": [{"role": "king", "content": "x"}],
            },
            "prompt",
        ),
        (
            {
                "name": "support/refund-reply",
                "type": "chat",
                "prompt": [{"role": "user", "content": "x"}],
            },
            "type",
        ),
    ],
)
def test_bad_input_is_a_400_per_field_and_changes_nothing(client, refund, body, field):
    before = PromptVersion.objects.count()

    _field_error(client.post(BASE, body, format="json"), field)

    assert PromptVersion.objects.count() == before


def test_a_create_with_the_sdks_nulls_and_unchanged_content(client, refund):
    body = {
        "name": "support/refund-reply",
        "prompt": "Hi {{customer}}. {{> support/signature}}",
        "type": "text",
        "config": None,
        "labels": [],
        "tags": None,
        "commitMessage": None,
    }

    response = client.post(BASE, body, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["versionCreated"] is False
    assert refund.versions.count() == 1


def test_the_list_is_paged_filtered_and_costs_a_constant_number_of_queries(
    client, refund, namespace, admin, django_assert_max_num_queries
):
    for number in range(5):
        prompt = PromptFactory(namespace=namespace, name=f"extra-{number}")
        version_create(prompt=prompt, author=admin, template="x", model_config={"n": number})

    with django_assert_max_num_queries(12):
        page = client.get(f"{BASE}?limit=3&page=2").json()

    assert page["meta"] == {"page": 2, "limit": 3, "totalItems": 7, "totalPages": 3}
    assert len(page["data"]) == 3
    first = client.get(f"{BASE}?name=support/refund-reply").json()["data"][0]
    assert first["versions"] == [1]
    assert first["labels"] == ["production", "latest"]
    assert client.get(f"{BASE}?tag=billing").json()["meta"]["totalItems"] == 1
    assert client.get(f"{BASE}?label=production").json()["meta"]["totalItems"] == 2
    assert client.get(f"{BASE}?limit=500").json()["meta"]["limit"] == 100


NEXT = {"name": "support/refund-reply", "prompt": "Hello {{customer}}", "type": "text"}


def test_a_refused_label_keeps_the_version_and_undoes_only_its_own_writes(
    client, refund, admin, monkeypatch
):
    @atomic_write
    def refusing(*, prompt, **_):
        prompt_update(actor=admin, prompt=prompt, tags=["half-written"])
        raise Conflict("Another promotion is being written.")

    monkeypatch.setattr(labels, "promotion_toward", refusing)

    response = client.post(BASE, {**NEXT, "labels": ["development"]}, format="json")

    assert response.status_code == 201, response.content
    (outcome,) = response.json()["labelOutcomes"]
    assert (outcome["state"], outcome["detail"]) == (
        "refused",
        "Another promotion is being written.",
    )
    assert refund.versions.count() == 2
    assert sorted(refund.tags.values_list("slug", flat=True)) == ["billing"]


def test_an_unexpected_error_while_labelling_leaves_nothing_written(client, refund, monkeypatch):
    def failing(**_):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(prompts_write, "label_move", failing)
    before = (PromptVersion.objects.count(), AuditEntry.objects.count())

    with pytest.raises(RuntimeError):
        client.post(
            BASE, {**NEXT, "name": "support/new-one", "labels": ["development"]}, format="json"
        )

    assert (PromptVersion.objects.count(), AuditEntry.objects.count()) == before
    assert not refund.namespace.prompts.filter(name="new-one").exists()


def test_latest_is_never_set_by_hand(client, refund):
    response = client.patch(
        f"{BASE}/support%2Frefund-reply/versions/1", {"newLabels": ["latest"]}, format="json"
    )

    assert "newest version" in _field_error(response, "newLabels")["errors"]["newLabels"][0]


def test_a_pinned_version_is_served_where_the_last_environment_runs_its_includes(client, refund):
    Environment.objects.filter(slug="production").update(slug="live", name="Live")

    response = client.get(f"{BASE}/support%2Frefund-reply?version=1")

    assert response.status_code == 200, response.content
    assert response.json()["prompt"] == "Hi {{customer}}. The {{team}} team"


def test_an_unrouted_langfuse_path_answers_in_langfuses_shape(client):
    response = client.get("/api/public/v3/nowhere")

    assert response.status_code == 404
    body = response.json()
    assert (body["error"], body["message"]) == ("LangfuseNotFoundError", body["detail"])
    assert body["code"] == "not_found"
