"""Serving prompts: resolve and render, HTTP caching, the server-side cache, deprecation."""

import datetime as dt

import pytest
import redis
from django.core.cache import cache
from django.utils import timezone

from approvals.services import promotion_approve, promotion_request, promotion_right_grant, rollback
from portal.cache import breaker
from portal.models import OutboxMessage
from portal.tasks import drain_outbox
from prompts.lifecycle import prompt_deprecate, prompt_retire
from prompts.models import PromptVersion
from prompts.resolve import cache_keys
from prompts.services import deployment_set, prompt_create, version_create
from prompts.templating import placeholders
from tests.api.conftest import personal_client, problem
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_resolve_returns_what_each_environment_runs_and_pinned_versions(world):
    for environment, number in (("development", 3), ("staging", 2), ("production", 1)):
        body = world.service.get(
            "/api/v1/resolve/support/greet/", {"environment": environment}
        ).json()
        assert (body["version"], body["environment"]) == (number, environment)
        version = world.versions[number - 1]
        assert body["sha256"] == version.sha256
        assert body["template"] == version.template
        assert body["model_config"] == version.model_config
        assert body["variables"] == ["name"]
        assert body["kind"] == "text"
        assert body["messages"] is None
        assert body["experiment"] is None

    default = world.get().json()
    pinned = world.service.get("/api/v1/resolve/support/greet/", {"version": 3}).json()
    assert default["version"] == 1
    assert default["environment"] == "production"
    assert (pinned["version"], pinned["template"]) == (3, "Hey {{name}}")


def test_errors_are_problems(world):
    unknown_env = world.service.get("/api/v1/resolve/support/greet/", {"environment": "moon"})
    no_version = world.service.get("/api/v1/resolve/support/greet/", {"version": 9})
    PromptFactory(namespace=world.namespace, name="undeployed")
    undeployed = world.get("support/undeployed")
    other = PromptFactory(namespace=NamespaceFactory(slug="elsewhere"), name="theirs")

    assert unknown_env.status_code == 422
    assert "environment" in problem(unknown_env)["errors"]
    assert no_version.status_code == 404
    assert problem(undeployed)["code"] == "not_deployed"
    assert world.get(other.full_name).status_code == 404
    assert world.get("support/nope").status_code == 404


@pytest.mark.parametrize("version", ["²", "١", "0", "-1", "2147483648", "1e3", "", "v1"])
def test_a_version_that_is_not_a_number_is_a_problem_not_a_server_error(world, version):
    response = world.service.get("/api/v1/resolve/support/greet/", {"version": version})

    assert response.status_code == 422
    assert "version" in problem(response)["errors"]


def test_unknown_environments_leave_no_answer_in_the_cache(world):
    for slug in ("moon", "mars"):
        response = world.service.get("/api/v1/resolve/support/greet/", {"environment": slug})
        assert response.status_code == 422

    world.get()
    assert cache.keys("resolve:v3:production:*")  # what is cached, and where
    assert cache.keys("resolve:v3:moon:*") == cache.keys("resolve:v3:mars:*") == []


def test_an_answer_cached_in_another_shape_is_a_miss_not_an_error(world):
    """A Redis kept across an upgrade may hold entries without `generations`."""
    key, *_ = cache_keys(namespace="support", name="greet", environment="production", version=None)
    cache.set(key, {"generation": "old", "body_json": b"{}", "etag": '"x"', "headers": {}}, 60)

    assert world.get().json()["version"] == 1


def test_http_caching_etag_304_and_headers(world):
    first = world.get()

    assert first.status_code == 200
    etag = first["ETag"]
    assert etag.startswith('"')
    assert len(etag) == 66
    assert first["Cache-Control"] == "private, max-age=5"
    assert "Authorization" in first["Vary"]
    again = world.get(HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert world.get(HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert world.get(HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_a_promotion_changes_the_answer_and_etag_at_once(world, django_capture_on_commit_callbacks):
    before = world.get()
    team = world.namespace.team
    writer, r1, r2 = (UserFactory(username=n) for n in ("writer", "r1", "r2"))
    MembershipFactory(team=team, user=writer, role="maintainer")
    for reviewer in (r1, r2):
        promotion_right_grant(
            actor=world.admin,
            namespace=world.namespace,
            environment=world.env["production"],
            user=reviewer,
        )

    with django_capture_on_commit_callbacks(execute=True):
        request = promotion_request(
            actor=writer,
            prompt=world.prompt,
            version=world.versions[1],
            environment=world.env["production"],
            justification="go",
        )
        promotion_approve(actor=r1, request=request)
        promotion_approve(actor=r2, request=request)
    after = world.get(HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert after.json()["version"] == 2
    assert after["ETag"] != before["ETag"]

    with django_capture_on_commit_callbacks(execute=True):
        rollback(
            actor=r1,
            prompt=world.prompt,
            environment=world.env["production"],
            justification="incident",
        )
    rolled_back = world.get(HTTP_IF_NONE_MATCH=after["ETag"])

    assert rolled_back.status_code == 200
    assert rolled_back.json()["version"] == 1
    assert rolled_back["ETag"] == before["ETag"]


def test_warm_resolve_with_a_service_token_touches_no_database(
    world, django_assert_num_queries, django_assert_max_num_queries
):
    cache.clear()
    with django_assert_max_num_queries(3):
        cold = world.get()
    with django_assert_num_queries(0):
        warm = world.get()

    assert cold.status_code == warm.status_code == 200
    assert warm.json() == cold.json()


def test_a_warm_resolve_reads_redis_once_with_one_mget(world, settings):
    server = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    world.get()
    world.get()  # the token's last-use note is queued once a minute, not now
    server.config_resetstat()

    assert world.get().status_code == 200

    calls = {
        name.removeprefix("cmdstat_"): stats["calls"]
        for name, stats in server.info("commandstats").items()
    }
    calls.pop("info", None)
    calls.pop("config|resetstat", None)
    assert calls == {"mget": 1}


def test_a_cold_resolve_with_a_warm_token_costs_one_query(world, django_assert_num_queries):
    world.get()
    cache.delete("resolve:v3:gen:p:support/greet")

    with django_assert_num_queries(1):
        assert world.get().json()["version"] == 1


def test_an_invalidation_redis_could_not_take_waits_in_the_outbox_for_the_drain(
    world, settings, django_capture_on_commit_callbacks
):
    """A promotion while Redis refuses writes commits, keeps its invalidation in the outbox,
    and the beat task's drain delivers it once Redis takes writes again."""
    assert world.get().json()["version"] == 1  # cached
    server = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    server.client_pause(5000, all=False)  # writes wait: longer than the cache's timeout
    try:
        with django_capture_on_commit_callbacks(execute=True):
            world.deploy("production", 2)
        owed = list(OutboxMessage.objects.values_list("kind", flat=True))
    finally:
        server.execute_command("CLIENT", "UNPAUSE")
    breaker.close()  # Redis answers again

    assert owed == ["cache"]
    assert world.get().json()["version"] == 1  # the old answer, until the drain
    assert drain_outbox() == 1
    assert world.get().json()["version"] == 3
    assert not OutboxMessage.objects.exists()


def test_resolve_answers_from_the_database_when_redis_is_down(world, settings, caplog):
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }

    response = world.get()
    rendered = world.service.post(
        "/api/v1/resolve/support/greet/render/", {"variables": {"name": "Ada"}}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert rendered.json()["rendered"] == "Hello Ada"
    assert "Redis failed" in caplog.text


class TestDeprecation:
    def test_deprecated_prompts_carry_headers(self, world, django_capture_on_commit_callbacks):
        successor = prompt_create(actor=world.admin, namespace=world.namespace, name="greet-v2")
        sunset = timezone.now() + dt.timedelta(days=30)
        before = world.get()

        with django_capture_on_commit_callbacks(execute=True):
            prompt_deprecate(
                actor=world.admin,
                prompt=world.prompt,
                reason="Use greet-v2",
                sunset_at=sunset,
                successor=successor,
            )
        response = world.get(HTTP_IF_NONE_MATCH=before["ETag"])

        assert response.status_code == 200
        assert response["Deprecation"].startswith("@")
        assert abs(int(response["Deprecation"][1:]) - timezone.now().timestamp()) < 60
        assert response["Sunset"].endswith("GMT")
        assert response["Link"] == '</api/v1/resolve/support/greet-v2/>; rel="successor-version"'
        assert response.json()["deprecation"]["reason"] == "Use greet-v2"
        assert response.json()["state"] == "deprecated"

    def test_retired_prompts_answer_410_naming_the_successor(
        self, world, django_capture_on_commit_callbacks
    ):
        successor = prompt_create(actor=world.admin, namespace=world.namespace, name="greet-v2")
        world.get()
        with django_capture_on_commit_callbacks(execute=True):
            prompt_deprecate(
                actor=world.admin, prompt=world.prompt, reason="old", successor=successor
            )
            prompt_retire(actor=world.admin, prompt=world.prompt, reason="Early, for the test.")

        response = world.get()

        assert response.status_code == 410
        body = problem(response)
        assert body["successor"] == "support/greet-v2"
        assert "support/greet-v2" in body["detail"]


class TestRender:
    def render(self, world, variables, path="support/greet", **extra):
        return world.service.post(
            f"/api/v1/resolve/{path}/render/", {"variables": variables, **extra}, format="json"
        )

    def test_text(self, world):
        response = self.render(world, {"name": "Ada"}, environment="development")

        assert response.status_code == 200
        assert response.json()["rendered"] == "Hey Ada"
        assert response.json()["version"] == 3

    def test_chat(self, world):
        chat = prompt_create(actor=world.admin, namespace=world.namespace, name="chat", kind="chat")
        version = version_create(
            prompt=chat,
            author=world.admin,
            variables=["q", "who"],
            messages=[
                {"role": "system", "content": "Help {{who}}."},
                {"role": "user", "content": "{{q}}"},
            ],
        )
        deployment_set(
            prompt=chat,
            environment=world.env["production"],
            version=version,
            actor=world.admin,
            action="deployment.seeded",
        )

        response = self.render(world, {"q": "Why?", "who": "Ada"}, path="support/chat")

        assert response.json()["rendered"] == [
            {"role": "system", "content": "Help Ada."},
            {"role": "user", "content": "Why?"},
        ]

    def test_missing_and_unknown_variables_are_named(self, world):
        missing = self.render(world, {})
        unknown = self.render(world, {"name": "x", "tone": "warm"})

        assert missing.status_code == unknown.status_code == 422
        assert "missing: name" in problem(missing)["detail"]
        assert "unknown: tone" in problem(unknown)["detail"]

    @pytest.mark.parametrize(
        ("template", "code"),
        [
            ("{{ settings.SECRET_KEY }}", "undefined"),
            ("{% set x = '__cla' ~ 'ss__' %}{{ name[x] }}", "sandbox"),
            ("{% set x = '__cla' ~ 'ss__' %}{{ name|attr(x) }}", "sandbox"),
            ("{% for i in range(100000) %}{{ name * 50 }}{% endfor %}", "too_large"),
            (
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                "sandbox",
            ),
            ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "render_error"),
            ("{{ '%0300000000d' % 1 }}", "sandbox"),
            ("{{ '%*d' % (300000000, 1) }}", "sandbox"),
            ("{{ '{:300000000}'.format(1) }}", "sandbox"),
            ("{{ 'x'|center(300000000) }}", "sandbox"),
            ("{{ name.center(300000000) }}", "sandbox"),
            ("{% set n = 10 %}{{ ((((n**100)**100)**100)**10) > 1 }}", "sandbox"),
            ("{{ ('a'*9999).replace('a', 'b'*9999) }}", "too_large"),
            ("{{ range(100000)|join('x'*9999) }}", "sandbox"),
        ],
    )
    def test_jinja2_sandbox_refuses_escapes_and_runaways(self, world, template, code):
        prompt = prompt_create(actor=world.admin, namespace=world.namespace, name="jin")
        variables = sorted(placeholders("jinja2", [template]))
        version = version_create(
            prompt=prompt,
            author=world.admin,
            template=template,
            template_format="jinja2",
            variables=variables,
        )
        deployment_set(
            prompt=prompt,
            environment=world.env["production"],
            version=version,
            actor=world.admin,
            action="deployment.seeded",
        )

        response = self.render(world, dict.fromkeys(variables, "Ada"), path="support/jin")

        assert response.status_code == 422, response.content
        assert problem(response)["code"] == code


class TestComposition:
    @pytest.fixture
    def composed(self, world, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            footer = prompt_create(actor=world.admin, namespace=world.namespace, name="footer")
            world.footer_versions = [
                version_create(prompt=footer, author=world.admin, template=text, variables=["team"])
                for text in ("-- {{team}}", "Regards, {{team}}")
            ]
            for slug in ("production", "staging"):
                deployment_set(
                    prompt=footer,
                    environment=world.env[slug],
                    version=world.footer_versions[0 if slug == "production" else 1],
                    actor=world.admin,
                    action="deployment.seeded",
                )
            body = prompt_create(actor=world.admin, namespace=world.namespace, name="letter")
            version = version_create(
                prompt=body,
                author=world.admin,
                template="Dear {{name}},\n{{> support/footer}}",
                variables=["name"],
            )
            for slug in ("production", "staging"):
                deployment_set(
                    prompt=body,
                    environment=world.env[slug],
                    version=version,
                    actor=world.admin,
                    action="deployment.seeded",
                )
        world.footer = footer
        world.letter = body
        return world

    def test_includes_resolve_in_the_same_environment(self, composed):
        def rendered(environment):
            return composed.service.post(
                "/api/v1/resolve/support/letter/render/",
                {"environment": environment, "variables": {"name": "Ada", "team": "Support"}},
                format="json",
            ).json()

        production, staging = rendered("production"), rendered("staging")
        assert production["rendered"] == "Dear Ada,\n-- Support"
        assert staging["rendered"] == "Dear Ada,\nRegards, Support"
        assert production["required_variables"] == ["name", "team"]
        assert production["includes"]["support/footer"]["version"] == 1

    def test_an_included_deployment_changes_the_etag(
        self, composed, django_capture_on_commit_callbacks
    ):
        before = composed.get("support/letter")["ETag"]
        with django_capture_on_commit_callbacks(execute=True):
            deployment_set(
                prompt=composed.footer,
                environment=composed.env["production"],
                version=composed.footer_versions[1],
                actor=composed.admin,
                action="deployment.seeded",
            )

        after = composed.get("support/letter")

        assert after["ETag"] != before
        assert after.json()["includes"]["support/footer"]["version"] == 2

    def test_cycles_are_refused_at_version_creation(self, composed):
        client = personal_client(composed.admin)

        response = client.post(
            "/api/v1/prompts/support/footer/versions/",
            {"template": "{{> support/letter}} {{team}}", "variables": ["team"]},
            format="json",
        )
        self_include = client.post(
            "/api/v1/prompts/support/footer/versions/",
            {"template": "{{> support/footer}}"},
            format="json",
        )
        missing = client.post(
            "/api/v1/prompts/support/footer/versions/",
            {"template": "{{> support/nowhere}}"},
            format="json",
        )

        assert response.status_code == 422
        body = problem(response)
        assert body["code"] == "include_cycle"
        assert "support/footer → support/letter → support/footer" in body["detail"]
        assert problem(self_include)["code"] == "include_cycle"
        assert "support/nowhere" in problem(missing)["detail"]


def test_a_revoked_service_token_stops_resolving_at_once(world, django_capture_on_commit_callbacks):
    from teams.models import ApiToken
    from teams.tokens import token_revoke

    assert world.get().status_code == 200
    token = ApiToken.objects.get(kind="service", namespaces=world.namespace)

    with django_capture_on_commit_callbacks(execute=True):
        token_revoke(actor=world.admin, token=token)

    refused = world.get()
    assert refused.status_code == 401
    assert problem(refused)["code"] == "authentication_failed"


def test_a_throttled_address_still_serves_known_tokens_but_refuses_guesses(world):
    from teams.authentication import FAILURE_LIMIT
    from tests.api.conftest import bearer

    assert world.get().status_code == 200
    cache.set("auth-failures:127.0.0.1", FAILURE_LIMIT, 60)

    assert world.get().status_code == 200
    guess = bearer("abcdefgh.guess").get("/api/v1/resolve/support/greet/")
    assert guess.status_code == 429


class TestIncludeVisibility:
    def test_private_prompts_of_other_namespaces_cannot_be_included(self, world):
        vault = NamespaceFactory(slug="vault", visibility="private")
        secret = prompt_create(actor=world.admin, namespace=vault, name="secret")
        version_create(prompt=secret, author=world.admin, template="TOP SECRET", variables=[])
        host = prompt_create(actor=world.admin, namespace=world.namespace, name="host")

        response = personal_client(world.admin).post(
            f"/api/v1/prompts/{host.full_name}/versions/",
            {"template": "x {{> vault/secret}}"},
            format="json",
        )

        assert response.status_code == 422
        assert problem(response)["code"] == "include_private"

    def test_an_include_that_became_private_is_no_longer_served(
        self, world, django_capture_on_commit_callbacks
    ):
        from teams.services import namespace_update

        with django_capture_on_commit_callbacks(execute=True):
            shared = NamespaceFactory(slug="shared", visibility="internal")
            footer = prompt_create(actor=world.admin, namespace=shared, name="footer")
            fv = version_create(prompt=footer, author=world.admin, template="-- us", variables=[])
            host = prompt_create(actor=world.admin, namespace=world.namespace, name="host")
            hv = version_create(
                prompt=host, author=world.admin, template="hi {{> shared/footer}}", variables=[]
            )
            for prompt, version in ((footer, fv), (host, hv)):
                deployment_set(
                    prompt=prompt,
                    environment=world.env["production"],
                    version=version,
                    actor=world.admin,
                    action="deployment.seeded",
                )
        assert world.get("support/host").status_code == 200

        with django_capture_on_commit_callbacks(execute=True):
            namespace_update(actor=world.admin, namespace=shared, visibility="private")

        refused = world.get("support/host")
        assert refused.status_code == 422
        assert problem(refused)["code"] == "include_private"


def test_resolve_does_not_reveal_private_prompts_through_its_errors(world):
    outsider = personal_client(UserFactory(username="nosy"))

    for query in ("?version=99", "?environment=nope", "?version=1&environment=nope", ""):
        existing = outsider.get(f"/api/v1/resolve/support/greet/{query}")
        missing = outsider.get(f"/api/v1/resolve/support/nothere/{query}")
        assert existing.status_code == missing.status_code == 404, query


def test_making_a_namespace_private_stops_outsiders_resolving_at_once(
    world, django_capture_on_commit_callbacks
):
    from teams.services import namespace_update

    with django_capture_on_commit_callbacks(execute=True):
        namespace_update(actor=world.admin, namespace=world.namespace, visibility="internal")
    outsider = personal_client(UserFactory(username="passer-by"))
    assert outsider.get("/api/v1/resolve/support/greet/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        namespace_update(actor=world.admin, namespace=world.namespace, visibility="private")

    assert outsider.get("/api/v1/resolve/support/greet/").status_code == 404


def test_a_stored_version_the_check_would_now_refuse_still_resolves(world):
    """Versions written before the creation check: resolve reads their includes from the
    stored rows instead of parsing them again, so it still answers; render refuses."""
    prompt = prompt_create(actor=world.admin, namespace=world.namespace, name="legacy")
    version = PromptVersion.objects.create(
        prompt=prompt,
        number=1,
        template="Hi {{ name.__class__ }}",
        template_format="jinja2",
        variables=["name"],
        sha256="0" * 64,
        author=world.admin,
    )
    deployment_set(
        prompt=prompt,
        environment=world.env["production"],
        version=version,
        actor=world.admin,
        action="deployment.seeded",
    )

    resolved = world.get("support/legacy")
    rendered = world.service.post(
        "/api/v1/resolve/support/legacy/render/", {"variables": {"name": "x"}}, format="json"
    )

    assert resolved.status_code == 200
    assert resolved.json()["template"] == "Hi {{ name.__class__ }}"
    assert rendered.status_code == 422
    assert problem(rendered)["code"] == "sandbox"
