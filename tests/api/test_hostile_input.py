"""Hostile input gets a clear 4xx, never a 500, never a half-write: size caps, deep JSON,
lone surrogates, tag floods (issue 10, items 2 and 3)."""

import json
import time

import pytest

from prompts.models import Tag
from prompts.services import prompt_create
from tests.api.conftest import personal_client, problem
from tests.api.test_promotions import Gov

pytestmark = pytest.mark.django_db


@pytest.fixture
def gov(db):
    return Gov()


def raw_post(client, url, text):
    return client.post(url, data=text, content_type="application/json")


class TestSizes:
    def test_a_template_above_the_cap_is_refused_and_one_at_it_accepted(self, gov, settings):
        writer = gov.clients["writer"]
        url = "/api/v1/prompts/alpha/greet/versions/"
        at_cap = "{{name}}" + "é" * ((settings.MAX_TEMPLATE_BYTES - 8) // 2)

        accepted = writer.post(url, {"template": at_cap, "variables": ["name"]}, format="json")
        refused = writer.post(
            url, {"template": at_cap + "!!", "variables": ["name"]}, format="json"
        )

        assert accepted.status_code == 201, accepted.content
        assert refused.status_code == 422
        assert problem(refused)["code"] == "too_large"
        assert "bytes" in problem(refused)["detail"]

    def test_two_hundred_kilobytes_of_open_braces_are_refused_at_once(self, gov, settings):
        settings.MAX_TEMPLATE_BYTES = 1 << 20  # past the cap: the parser itself must be linear
        started = time.monotonic()

        response = gov.clients["writer"].post(
            "/api/v1/prompts/alpha/greet/versions/",
            {"template": "{{" * 100_000, "variables": []},
            format="json",
        )

        assert time.monotonic() - started < 1
        assert response.status_code == 422
        assert problem(response)["code"] == "template_syntax"

    def test_justifications_and_comments_are_capped(self, gov, settings):
        long = "x" * (settings.MAX_NOTE_BYTES + 1)

        request = gov.request("mia", 2, "development", justification=long)
        staging = gov.request("mia", 2, "staging").json()
        comment = gov.decide("r1", staging["id"], "reject", comment=long)
        rollback = gov.clients["boss"].post(
            "/api/v1/prompts/alpha/greet/rollback/",
            {"environment": "staging", "justification": long},
            format="json",
        )
        description = gov.clients["writer"].patch(
            "/api/v1/prompts/alpha/greet/", {"description": long}, format="json"
        )

        for response in (request, comment, rollback, description):
            assert response.status_code == 422, response.content
            assert "at most" in problem(response)["detail"]
        assert gov.request("mia", 2, "development", justification="x" * 4096).status_code == 201


class TestTags:
    url = "/api/v1/prompts/alpha/greet/"

    def test_at_most_twenty_tags_of_fifty_characters(self, gov):
        writer = gov.clients["writer"]

        twenty = writer.patch(self.url, {"tags": [f"t{i}" for i in range(20)]}, format="json")
        more = writer.patch(self.url, {"tags": [f"t{i}" for i in range(21)]}, format="json")
        long = writer.patch(self.url, {"tags": ["a" + "b" * 50]}, format="json")

        assert twenty.status_code == 200
        assert more.status_code == long.status_code == 422
        assert problem(more)["code"] == problem(long)["code"] == "too_large"

    def test_a_list_of_repeated_tags_is_refused_not_cut_short(self, gov):
        response = gov.clients["writer"].patch(
            self.url, {"tags": ["aa"] * 201 + ["bb"]}, format="json"
        )

        assert response.status_code == 422
        assert not gov.prompt.tags.exists()

    def test_twenty_thousand_tags_are_refused_quickly_and_leave_nothing_behind(self, gov):
        started = time.monotonic()

        response = gov.clients["writer"].patch(
            self.url, {"tags": [f"tag-{i}" for i in range(20_000)]}, format="json"
        )

        assert time.monotonic() - started < 2
        assert response.status_code == 422
        assert Tag.objects.count() == 0

    def test_tags_no_prompt_uses_are_deleted_and_shared_ones_kept(self, gov):
        writer = gov.clients["writer"]
        prompt_create(actor=gov.staff, namespace=gov.namespace, name="other", tags=["shared"])

        writer.patch(self.url, {"tags": ["shared", "alone", "kept"]}, format="json")
        response = writer.patch(self.url, {"tags": ["kept"]}, format="json")

        assert response.status_code == 200
        assert sorted(Tag.objects.values_list("slug", flat=True)) == ["kept", "shared"]


class TestMalformedJson:
    def test_a_body_nested_past_the_decoder_is_a_400(self, gov):
        body = "[" * 100_000 + "]" * 100_000

        response = raw_post(gov.clients["writer"], "/api/v1/prompts/", body)

        assert response.status_code == 400
        assert response["Content-Type"] == "application/problem+json"

    @pytest.mark.parametrize("depth", [40, 200])
    def test_deep_structures_inside_fields_are_refused(self, gov, depth):
        deep = "[" * depth + "1" + "]" * depth
        body = '{"template": "Hi {{name}}", "variables": ["name"], "model_config": {"x": %s}}'

        response = raw_post(
            gov.clients["writer"], "/api/v1/prompts/alpha/greet/versions/", body % deep
        )

        assert response.status_code == 422, response.content
        assert problem(response)["code"] == "too_deep"

    @pytest.mark.parametrize(
        ("url", "body"),
        [
            (
                "/api/v1/prompts/alpha/greet/versions/",
                '{"template": "Hi {{name}} \\ud800", "variables": ["name"]}',
            ),
            (
                "/api/v1/prompts/alpha/greet/versions/",
                '{"template": "Hi {{name}}", "variables": ["name"], '
                '"model_config": {"\\udfff": 1}}',
            ),
            (
                "/api/v1/prompts/alpha/greet/versions/",
                '{"template": "Hi {{name}}", "variables": ["name"], '
                '"model_config": {"model": "gpt\\ud83d"}}',
            ),
            (
                "/api/v1/prompts/alpha/chat/versions/",
                '{"messages": [{"role": "user", "content": "hi \\ud800"}]}',
            ),
            ("/api/v1/resolve/alpha/greet/render/", '{"variables": {"name": "A\\ud800"}}'),
            ("/api/v1/resolve/alpha/greet/render/", '{"variables": {"n\\ud800me": "A"}}'),
            ("/api/v1/prompts/alpha/greet/", '{"description": "\\udc00"}'),
        ],
    )
    def test_lone_surrogates_anywhere_are_a_422(self, gov, url, body):
        prompt_create(actor=gov.staff, namespace=gov.namespace, name="chat", kind="chat")
        gov.promote_through(1, "development", "staging", "production")
        client = gov.clients["writer"]

        if url.endswith("/greet/"):
            response = client.patch(url, data=body, content_type="application/json")
        else:
            response = raw_post(client, url, body)

        assert response.status_code == 422, response.content
        assert problem(response)["code"] == "invalid_text"

    def test_a_reader_rendering_with_deep_variables_gets_a_4xx(self, gov):
        gov.promote_through(1, "development", "staging", "production")
        variables = {"name": json.loads("[" * 500 + "]" * 500)}

        response = personal_client(gov.users["r1"]).post(
            "/api/v1/resolve/alpha/greet/render/", {"variables": variables}, format="json"
        )

        assert response.status_code == 422
        assert problem(response)["code"] == "too_deep"


class TestPortalForms:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("model_config", "[" * 5000 + "]" * 5000),
            ("model_config", '{"x": ' + "[" * 40 + "]" * 40 + "}"),
            ("model_config", '{"model": "gpt\\ud800"}'),
            ("template", "{{ name.__class__ }}"),
            ("template", "{{" * 100_000),
        ],
    )
    def test_bad_input_in_the_version_form_is_a_form_error(self, gov, client, field, value):
        client.force_login(gov.users["writer"])
        form = {
            "template": "Hi {{ name }}",
            "template_format": "jinja2",
            "variables": "name",
            "model_config": "",
        }

        response = client.post("/prompts/alpha/greet/versions/new/", {**form, field: value})

        assert response.status_code == 422, response.content[:300]
        assert gov.prompt.versions.count() == 2


def test_a_render_with_thousands_of_unknown_variables_answers_briefly(gov):
    gov.promote_through(1, "development", "staging", "production")
    variables = {f"v{i}" * 20: "x" for i in range(5000)} | {"name": "Ada"}

    response = gov.clients["r1"].post(
        "/api/v1/resolve/alpha/greet/render/", {"variables": variables}, format="json"
    )

    assert response.status_code == 422
    assert len(response.content) < 5000
    assert "and 4980 more" in problem(response)["detail"]
