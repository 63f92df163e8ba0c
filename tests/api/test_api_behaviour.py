"""The API as a user meets it: the README flow, tokens, errors, filters, visibility, N+1."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prompts.models import Prompt, PromptVersion
from prompts.services import version_create
from teams.authentication import FAILURE_LIMIT
from teams.models import ApiToken, Namespace
from tests.api.conftest import bearer, personal_client, problem, service_client
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    TeamFactory,
    UserFactory,
    system_actor,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(namespace):
    user = UserFactory(username="olivia")
    MembershipFactory(team=namespace.team, user=user, role="owner")
    return user


def test_readme_flow_with_a_token_from_issue_token(owner, namespace):
    out = StringIO()
    call_command("issue_token", owner.username, stdout=out, stderr=StringIO())
    client = bearer(out.getvalue().strip().splitlines()[-1])

    created_ns = client.post(
        "/api/v1/namespaces/",
        {"slug": "billing", "team": namespace.team.slug, "description": "Invoices"},
        format="json",
    )
    created_prompt = client.post(
        "/api/v1/prompts/",
        {"namespace": "billing", "name": "invoice-reminder", "kind": "text", "tags": ["email"]},
        format="json",
    )
    v1 = client.post(
        "/api/v1/prompts/billing/invoice-reminder/versions/",
        {
            "template": "Dear {{name}}, invoice {{number}} is due.",
            "variables": ["name", "number"],
            "model_config": {"model": "gpt-4o-mini", "temperature": 0.2},
            "message": "first",
        },
        format="json",
    )
    v2 = client.post(
        "/api/v1/prompts/billing/invoice-reminder/versions/",
        {
            "template": "Hello {{name}}, invoice {{number}} is due soon.",
            "variables": ["name", "number"],
            "model_config": {"model": "gpt-4o-mini", "temperature": 0.2},
            "message": "friendlier",
        },
        format="json",
    )
    diff = client.get("/api/v1/prompts/billing/invoice-reminder/versions/2/diff/")

    assert created_ns.status_code == 201, created_ns.content
    assert created_prompt.status_code == 201
    assert created_prompt.json()["full_name"] == "billing/invoice-reminder"
    assert (v1.status_code, v2.status_code) == (201, 201)
    assert v2.json()["number"] == 2
    assert v2.json()["parent"] == 1
    assert v2.json()["author"] == owner.username
    body = diff.json()
    assert diff.status_code == 200
    assert "-Dear {{name}}, invoice {{number}} is due." in body["content"]
    assert "+Hello {{name}}, invoice {{number}} is due soon." in body["content"]
    assert body["settings"] == ""


class TestTokens:
    def test_secret_is_shown_once_and_stored_hashed(self, owner):
        client = personal_client(owner)

        created = client.post("/api/v1/tokens/", {"name": "laptop"}, format="json")
        listed = client.get("/api/v1/tokens/").json()["results"]

        secret = created.json()["token"]
        assert created.status_code == 201
        assert secret.startswith(created.json()["prefix"] + ".")
        assert all("token" not in row for row in listed)
        stored = ApiToken.objects.get(prefix=created.json()["prefix"])
        assert secret not in stored.hashed_key
        assert stored.hashed_key.startswith("sha512$$")
        assert bearer(secret).get("/api/v1/teams/").status_code == 200

    def test_revocation_applies_at_once_even_with_a_warm_cache(
        self, owner, django_capture_on_commit_callbacks
    ):
        token, secret = _token(owner)
        client = bearer(secret)
        assert client.get("/api/v1/teams/").status_code == 200

        with django_capture_on_commit_callbacks(execute=True):
            revoked = personal_client(owner).delete(f"/api/v1/tokens/{token.prefix}/")

        assert revoked.status_code == 204
        refused = client.get("/api/v1/teams/")
        assert refused.status_code == 401
        assert problem(refused)["code"] == "authentication_failed"
        assert ApiToken.objects.get(pk=token.pk).revoked_at is not None

    def test_expiry_in_the_past_is_refused_and_expired_tokens_stop_working(self, owner):
        client = personal_client(owner)
        past = (timezone.now() - dt.timedelta(minutes=1)).isoformat()

        refused = client.post("/api/v1/tokens/", {"name": "old", "expires_at": past}, format="json")

        assert refused.status_code == 422
        assert "expires_at" in problem(refused)["errors"]

    def test_last_used_is_written_at_most_once_a_minute(self, owner):
        token, secret = _token(owner)
        client = bearer(secret)

        client.get("/api/v1/teams/")
        first_use = ApiToken.objects.get(pk=token.pk).last_used_at
        with CaptureQueriesContext(connection) as queries:
            client.get("/api/v1/teams/")

        assert first_use is not None
        assert not [q for q in queries.captured_queries if "UPDATE" in q["sql"]]
        assert ApiToken.objects.get(pk=token.pk).last_used_at == first_use

    def test_repeated_failures_are_throttled_but_valid_tokens_still_served(self, owner):
        _, good_secret = _token(owner)
        for _ in range(FAILURE_LIMIT):
            assert bearer("abcdefgh.wrong").get("/api/v1/teams/").status_code == 401

        throttled = bearer("abcdefgh.wrong").get("/api/v1/teams/")
        served = bearer(good_secret).get("/api/v1/teams/")

        assert throttled.status_code == 429
        assert problem(throttled)["code"] == "throttled"
        assert int(throttled["Retry-After"]) > 0
        assert served.status_code == 200

    def test_you_cannot_revoke_someone_elses_token(self, owner):
        token, _ = _token(owner)
        stranger = personal_client(UserFactory())

        assert stranger.delete(f"/api/v1/tokens/{token.prefix}/").status_code == 404
        assert not ApiToken.objects.get(pk=token.pk).revoked


def _token(user):
    from teams.tokens import personal_token_create

    return personal_token_create(actor=user, name="test")


class TestProblemResponses:
    def test_unknown_path(self, owner):
        response = personal_client(owner).get("/api/v1/no-such-thing/")

        assert response.status_code == 404
        assert problem(response)["code"] == "not_found"

    def test_method_not_allowed_names_the_allowed_ones(self, owner):
        response = personal_client(owner).put("/api/v1/teams/", {}, format="json")

        assert response.status_code == 405
        problem(response)
        assert "POST" in response["Allow"]

    def test_malformed_json(self, owner):
        response = personal_client(owner).generic(
            "POST", "/api/v1/prompts/", "{nope", content_type="application/json"
        )

        assert response.status_code == 400
        assert problem(response)["code"] == "parse_error"

    def test_unsupported_media_type(self, owner):
        response = personal_client(owner).post(
            "/api/v1/prompts/", {"name": "x"}, format="multipart"
        )

        assert response.status_code == 415
        problem(response)

    def test_validation_names_each_field(self, owner, namespace):
        response = personal_client(owner).post(
            "/api/v1/prompts/", {"namespace": namespace.slug, "kind": "poem"}, format="json"
        )

        body = problem(response)
        assert response.status_code == 422
        assert set(body["errors"]) == {"name", "kind"}

    def test_nested_validation_errors_have_paths(self, owner, namespace):
        chat = PromptFactory(namespace=namespace, name="chatty", kind="chat")
        response = personal_client(owner).post(
            f"/api/v1/prompts/{namespace.slug}/{chat.name}/versions/",
            {"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}]},
            format="json",
        )

        body = problem(response)
        assert response.status_code == 422
        assert "role 'robot'" in body["detail"]
        assert "messages" in body["errors"]

    def test_duplicates_are_conflicts(self, owner, namespace):
        client = personal_client(owner)
        client.post(
            "/api/v1/prompts/", {"namespace": namespace.slug, "name": "twice"}, format="json"
        )

        again = client.post(
            "/api/v1/prompts/", {"namespace": namespace.slug, "name": "twice"}, format="json"
        )

        assert again.status_code in (409, 422)
        assert "already exists" in problem(again)["detail"]
        assert Prompt.objects.filter(name="twice").count() == 1

    def test_unchanged_version_is_a_conflict(self, owner, prompt):
        client = personal_client(owner)
        url = f"/api/v1/prompts/{prompt.full_name}/versions/"
        client.post(url, {"template": "Hi {{x}}", "variables": ["x"]}, format="json")

        again = client.post(url, {"template": "Hi {{x}}", "variables": ["x"]}, format="json")

        assert again.status_code == 409
        assert problem(again)["code"] == "unchanged"

    def test_bad_page_and_bad_filter(self, owner):
        client = personal_client(owner)

        assert problem(client.get("/api/v1/prompts/?page=999"))["status"] == 404
        bad_filter = client.get("/api/v1/prompts/?state=sleeping")
        assert bad_filter.status_code == 422
        assert "state" in problem(bad_filter)["errors"]

    def test_diff_of_first_version_needs_against(self, owner, prompt, make_version):
        make_version(prompt)

        response = personal_client(owner).get(
            f"/api/v1/prompts/{prompt.full_name}/versions/1/diff/"
        )

        assert response.status_code == 422
        assert "against" in problem(response)["errors"]


def test_prompt_filters(owner, namespace):
    other = NamespaceFactory(slug="other-ns", team=namespace.team)
    PromptFactory(namespace=namespace, name="refund-reply", tags=["refunds"], description="money")
    PromptFactory(namespace=namespace, name="greeting", kind="chat")
    PromptFactory(namespace=other, name="summary", tags=["refunds"])
    Prompt.objects.filter(name="greeting").update(state="deprecated")
    client = personal_client(owner)

    def names(query: str) -> set[str]:
        response = client.get(f"/api/v1/prompts/?{query}")
        assert response.status_code == 200
        return {row["full_name"] for row in response.json()["results"]}

    assert names(f"namespace={namespace.slug}") == {"support/refund-reply", "support/greeting"}
    assert names("tag=refunds") == {"support/refund-reply", "other-ns/summary"}
    assert names("state=deprecated") == {"support/greeting"}
    assert names("kind=chat") == {"support/greeting"}
    assert names("q=money") == {"support/refund-reply"}
    assert names("q=refund&namespace=other-ns") == {"other-ns/summary"}  # by its tag
    assert names("q=money&namespace=other-ns") == set()


def test_service_token_reads_its_namespaces_only(namespace, prompt, make_version):
    make_version(prompt)
    secret_ns = NamespaceFactory(slug="secret", visibility="private")
    hidden = PromptFactory(namespace=secret_ns, name="hidden")
    client = service_client(actor=system_actor(), namespaces=[secret_ns])

    listed = {row["full_name"] for row in client.get("/api/v1/prompts/").json()["results"]}

    assert listed == {hidden.full_name}
    assert client.get(f"/api/v1/prompts/{hidden.full_name}/").status_code == 200
    assert client.get(f"/api/v1/prompts/{prompt.full_name}/").status_code == 404
    write = client.post(
        f"/api/v1/prompts/{hidden.full_name}/versions/", {"template": "x"}, format="json"
    )
    assert write.status_code == 403
    assert not PromptVersion.objects.filter(prompt=hidden).exists()


def test_maintainer_of_a_cannot_read_or_write_team_bs_private_prompts(namespace, member_of):
    b_private = NamespaceFactory(slug="team-b-secret", visibility="private")
    b_open = NamespaceFactory(slug="team-b-open", team=b_private.team, visibility="internal")
    secret = PromptFactory(namespace=b_private, name="secret")
    version_create(prompt=secret, author=system_actor(), template="classified", variables=[])
    open_prompt = PromptFactory(namespace=b_open, name="open")
    client = personal_client(member_of(namespace, role="maintainer"))
    counts = (Prompt.objects.count(), PromptVersion.objects.count(), Namespace.objects.count())

    assert client.get(f"/api/v1/prompts/{secret.full_name}/").status_code == 404
    assert client.get(f"/api/v1/prompts/{secret.full_name}/versions/1/").status_code == 404
    assert client.get("/api/v1/namespaces/team-b-secret/").status_code == 404
    writes = [
        client.post(
            f"/api/v1/prompts/{secret.full_name}/versions/", {"template": "x"}, format="json"
        ),
        client.post(
            f"/api/v1/prompts/{open_prompt.full_name}/versions/", {"template": "x"}, format="json"
        ),
        client.post("/api/v1/prompts/", {"namespace": "team-b-secret", "name": "n"}, format="json"),
        client.post("/api/v1/prompts/", {"namespace": "team-b-open", "name": "n"}, format="json"),
        client.patch("/api/v1/namespaces/team-b-open/", {"description": "x"}, format="json"),
        client.patch(
            f"/api/v1/prompts/{open_prompt.full_name}/", {"description": "x"}, format="json"
        ),
    ]
    assert [w.status_code for w in writes] == [404, 403, 404, 403, 403, 403]
    assert (Prompt.objects.count(), PromptVersion.objects.count(), Namespace.objects.count()) == (
        counts
    )


class TestMembershipDrivesAccess:
    def test_removing_a_member_removes_access_to_private_prompts(self, member_of):
        private = NamespaceFactory(visibility="private")
        prompt = PromptFactory(namespace=private, name="inside")
        owner = member_of(private, role="owner")
        leaver = member_of(private, role="maintainer")
        leaver_client = personal_client(leaver)
        assert leaver_client.get(f"/api/v1/prompts/{prompt.full_name}/").status_code == 200

        removed = personal_client(owner).delete(
            f"/api/v1/teams/{private.team.slug}/members/{leaver.username}/"
        )

        assert removed.status_code == 204
        assert leaver_client.get(f"/api/v1/prompts/{prompt.full_name}/").status_code == 404

    def test_the_last_owner_cannot_leave_or_be_demoted(self, member_of):
        team_ns = NamespaceFactory()
        owner = member_of(team_ns, role="owner")
        client = personal_client(owner)
        url = f"/api/v1/teams/{team_ns.team.slug}/members/{owner.username}/"

        demoted = client.patch(url, {"role": "viewer"}, format="json")
        removed = client.delete(url)

        assert (demoted.status_code, removed.status_code) == (409, 409)
        assert problem(demoted)["code"] == "last_owner"

    def test_moving_a_namespace_moves_write_access(self, member_of, staff):
        private = NamespaceFactory(visibility="private")
        new_team = TeamFactory(slug="new-home")
        old_maintainer = member_of(private, role="maintainer")
        new_maintainer = UserFactory()
        MembershipFactory(team=new_team, user=new_maintainer, role="maintainer")
        prompt = PromptFactory(namespace=private, name="moving")

        moved = personal_client(staff).patch(
            f"/api/v1/namespaces/{private.slug}/", {"team": "new-home"}, format="json"
        )

        assert moved.status_code == 200
        assert moved.json()["team"] == "new-home"
        body = {"template": "New home", "variables": []}
        url = f"/api/v1/prompts/{prompt.full_name}/versions/"
        assert personal_client(old_maintainer).post(url, body, format="json").status_code == 404
        assert personal_client(new_maintainer).post(url, body, format="json").status_code == 201


def test_promotion_rights_listing_shows_users_and_teams(owner, namespace, staff):
    client = personal_client(staff)
    url = f"/api/v1/namespaces/{namespace.slug}/promotion-rights/"
    client.post(url, {"username": owner.username, "environment": "production"}, format="json")
    client.post(url, {"team": namespace.team.slug, "environment": "staging"}, format="json")

    rights = client.get(url).json()

    assert rights == [
        {"environment": "staging", "username": None, "team": namespace.team.slug},
        {"environment": "production", "username": owner.username, "team": None},
    ]
    revoke = client.delete(f"{url}?environment=staging&team={namespace.team.slug}")
    assert revoke.status_code == 204
    assert client.delete(f"{url}?environment=staging&team={namespace.team.slug}").status_code == 404
    assert len(client.get(url).json()) == 1


@pytest.mark.parametrize(
    ("url", "grow"),
    [
        ("/api/v1/prompts/", "prompts"),
        ("/api/v1/namespaces/", "namespaces"),
        ("/api/v1/teams/", "teams"),
        ("/api/v1/teams/{team}/members/", "members"),
        ("/api/v1/prompts/{prompt}/versions/", "versions"),
        ("/api/v1/tokens/", "tokens"),
        ("/api/v1/users/", "members"),
        ("/api/v1/namespaces/{namespace}/service-tokens/", "service_tokens"),
        ("/api/v1/namespaces/{namespace}/promotion-rights/", "rights"),
        ("/api/v1/environments/", "prompts"),
    ],
)
def test_list_query_count_is_constant_in_rows(
    url, grow, namespace, prompt, staff, django_assert_max_num_queries
):
    from approvals.services import promotion_right_grant
    from prompts.models import Environment
    from teams.tokens import personal_token_create, service_token_create

    client = personal_client(staff)
    url = url.format(team=namespace.team.slug, prompt=prompt.full_name, namespace=namespace.slug)
    environments = list(Environment.objects.all())

    def add_rows(count: int, offset: int) -> None:
        for i in range(offset, offset + count):
            if grow == "prompts":
                PromptFactory(namespace=namespace, name=f"p-{i}", tags=["common", f"t{i}"])
            elif grow == "namespaces":
                NamespaceFactory(slug=f"n-{i}")
            elif grow == "teams":
                MembershipFactory(team=TeamFactory(slug=f"t-{i}"))
            elif grow == "members":
                MembershipFactory(team=namespace.team, user=UserFactory(username=f"m-{i}"))
            elif grow == "versions":
                version_create(prompt=prompt, author=staff, template=f"v{i}", variables=[])
            elif grow == "tokens":
                personal_token_create(actor=staff, name=f"t{i}")
            elif grow == "service_tokens":
                service_token_create(actor=staff, namespaces=[namespace], name=f"s{i}")
            elif grow == "rights":
                promotion_right_grant(
                    actor=staff,
                    namespace=namespace,
                    environment=environments[i % 3],
                    user=UserFactory(username=f"r-{i}"),
                )

    add_rows(2, 0)
    with django_assert_max_num_queries(30) as few:
        assert client.get(url).status_code == 200
    add_rows(12, 2)

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_openapi_schema_validates_and_docs_are_served(tmp_path, api):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )

    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    assert "/api/v1/prompts/{namespace}/{name}/versions/{number}/diff/" in document["paths"]
    create_version = document["paths"]["/api/v1/prompts/{namespace}/{name}/versions/"]["post"]
    assert {"201", "401", "403", "404", "409", "422"} <= set(create_version["responses"])
    assert "application/problem+json" in create_version["responses"]["422"]["content"]
    assert api.get("/api/v1/docs/").status_code == 200
