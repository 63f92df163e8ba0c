"""The portal shell: sign-in, the home page and the prompt pages, visibility rules."""

import pytest
from django.urls import reverse

from prompts.services import deployment_set
from tests.factories import NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def prompt_page(prompt):
    return reverse("prompts:detail", args=[prompt.namespace.slug, prompt.name])


@pytest.mark.parametrize("url_name", ["home", "prompts:detail", "prompts:version"])
def test_anonymous_visitors_are_sent_to_sign_in(client, prompt, make_version, url_name):
    make_version(prompt)
    args = {
        "home": [],
        "prompts:detail": [prompt.namespace.slug, prompt.name],
        "prompts:version": [prompt.namespace.slug, prompt.name, 1],
    }[url_name]
    url = reverse(url_name, args=args)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_sign_in_and_out(client):
    UserFactory(username="zoe")

    wrong = client.post(reverse("login"), {"username": "zoe", "password": "nope"})
    assert wrong.status_code == 200
    assert "correct username and password" in wrong.content.decode()
    assert client.get(reverse("home")).status_code == 302

    response = client.post(reverse("login"), {"username": "zoe", "password": "secret-pass-123"})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200

    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_home_lists_what_the_user_may_see_and_hides_other_teams_private_prompts(client, member_of):
    mine = NamespaceFactory(slug="mine", visibility="private")
    internal = NamespaceFactory(slug="shared", visibility="internal")
    theirs = NamespaceFactory(slug="theirs-secret", visibility="private")
    PromptFactory(namespace=mine, name="my-private")
    PromptFactory(namespace=internal, name="everyones")
    PromptFactory(namespace=theirs, name="hidden-prompt")
    user = member_of(mine, role="viewer")
    client.force_login(user)

    body = client.get(reverse("home")).content.decode()

    assert "mine/my-private" in body
    assert "shared/everyones" in body
    assert "hidden-prompt" not in body
    assert "theirs-secret" not in body
    assert mine.team.name in body


def test_staff_see_private_namespaces(client):
    secret = NamespaceFactory(slug="secret", visibility="private")
    PromptFactory(namespace=secret, name="classified")
    client.force_login(UserFactory(is_staff=True))

    assert "secret/classified" in client.get(reverse("home")).content.decode()


def test_home_search_filters_prompts(client, namespace):
    PromptFactory(namespace=namespace, name="refunds")
    PromptFactory(namespace=namespace, name="greeting")
    client.force_login(UserFactory())

    body = client.get(reverse("home"), {"q": "refund"}).content.decode()

    assert "support/refunds" in body
    assert "support/greeting" not in body


def test_home_query_count_does_not_grow_with_prompts(
    client, namespace, django_assert_max_num_queries
):
    client.force_login(UserFactory())
    for index in range(3):
        PromptFactory(namespace=namespace, name=f"few-{index}")
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("home"))
    for index in range(30):
        PromptFactory(namespace=namespace, name=f"many-{index}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("home")).status_code == 200


def test_prompt_page_shows_versions_and_deployments(
    client, prompt, prompt_page, make_version, environments, author
):
    first = make_version(prompt, text="Hello {{name}}", message="first cut")
    second = make_version(prompt, text="Hi {{name}}", message="friendlier")
    deployment_set(
        action="deployment.seeded",
        prompt=prompt,
        environment=environments["production"],
        version=first,
        actor=author,
    )
    deployment_set(
        action="deployment.seeded",
        prompt=prompt,
        environment=environments["development"],
        version=second,
        actor=author,
    )
    client.force_login(UserFactory())

    response = client.get(prompt_page)

    assert response.status_code == 200
    body = response.content.decode()
    assert "first cut" in body
    assert "friendlier" in body
    rows = {row.environment.slug: row.deployment for row in response.context["deployments"]}
    assert rows["production"].version == first
    assert rows["development"].version == second
    assert rows["staging"] is None
    assert "not deployed" in body


def test_prompt_page_query_count_is_constant_in_versions(
    client, prompt, prompt_page, make_version, django_assert_max_num_queries
):
    client.force_login(UserFactory())
    make_version(prompt, text="v1 {{name}}")
    with django_assert_max_num_queries(20) as few:
        client.get(prompt_page)
    for index in range(2, 25):
        make_version(prompt, text=f"v{index} {{{{name}}}}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(prompt_page)


def test_other_teams_private_prompt_is_404_not_403(client, member_of):
    secret = NamespaceFactory(visibility="private")
    prompt = PromptFactory(namespace=secret, name="classified")
    outsider = member_of(NamespaceFactory(), role="owner")
    client.force_login(outsider)

    response = client.get(reverse("prompts:detail", args=[secret.slug, prompt.name]))

    assert response.status_code == 404


def test_version_page_shows_content_and_diff_against_parent(client, prompt, make_version):
    make_version(prompt, text="Hello {{name}}")
    make_version(prompt, text="Hello dear {{name}}", model_config={"temperature": 0.4})
    client.force_login(UserFactory())

    response = client.get(reverse("prompts:version", args=[prompt.namespace.slug, prompt.name, 2]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Hello {{name}}</td>" in body
    assert "Hello <ins>dear </ins>{{name}}" in body
    assert "temperature" in body


def test_version_page_can_diff_against_any_version(client, prompt, make_version):
    make_version(prompt, text="One {{name}}")
    make_version(prompt, text="Two {{name}}")
    make_version(prompt, text="Three {{name}}")
    client.force_login(UserFactory())
    url = reverse("prompts:version", args=[prompt.namespace.slug, prompt.name, 3])

    body = client.get(url, {"against": 1}).content.decode()

    assert "<del>One</del> {{name}}" in body
    assert "<ins>Three</ins> {{name}}" in body
    assert client.get(url, {"against": 99}).status_code == 404


def test_admin_pages_render_with_history(admin_client, prompt, make_version, environments, author):
    version = make_version(prompt)
    deployment_set(
        action="deployment.seeded",
        prompt=prompt,
        environment=environments["staging"],
        version=version,
        actor=author,
    )
    urls = [
        reverse(f"admin:{app}_{model}_changelist")
        for app, model in [
            ("teams", "team"),
            ("teams", "membership"),
            ("teams", "namespace"),
            ("prompts", "prompt"),
            ("prompts", "promptversion"),
            ("prompts", "environment"),
            ("prompts", "deployment"),
            ("teams", "apitoken"),
        ]
    ]
    urls += [
        reverse("admin:prompts_prompt_history", args=[prompt.pk]),
        reverse("admin:prompts_deployment_history", args=[prompt.deployments.get().pk]),
        reverse("admin:prompts_promptversion_change", args=[version.pk]),
    ]

    for url in urls:
        assert admin_client.get(url).status_code == 200, url


def test_admin_cannot_edit_or_delete_versions(admin_client, prompt, make_version):
    version = make_version(prompt)
    url = reverse("admin:prompts_promptversion_change", args=[version.pk])

    admin_client.post(url, {"template": "edited"})
    delete = admin_client.post(
        reverse("admin:prompts_promptversion_delete", args=[version.pk]), {"post": "yes"}
    )

    assert delete.status_code == 403
    version.refresh_from_db()
    assert version.template == "Hello {{name}}"


def test_home_search_with_odd_input_does_not_fail(client, namespace):
    PromptFactory(namespace=namespace, name="refunds")
    client.force_login(UserFactory())

    response = client.get(reverse("home"), {"q": "ref\x00unds" + "x" * 500})

    assert response.status_code == 200


class TestUseItPanel:
    @pytest.fixture
    def deployed(
        self, prompt, make_version, environments, author, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            first = make_version(prompt, text="Hello {{name}}")
            second = make_version(prompt, text="Hi {{name}}!")
            for env, version in (("production", first), ("development", second)):
                deployment_set(
                    action="deployment.seeded",
                    prompt=prompt,
                    environment=environments[env],
                    version=version,
                    actor=author,
                )
        return prompt

    def test_prompt_page_shows_how_to_resolve_it(self, client, deployed, prompt_page):
        client.force_login(UserFactory())

        body = client.get(prompt_page).content.decode()

        assert "Use it" in body
        assert "/api/v1/resolve/support/refund-reply/?environment=production" in body
        assert "Authorization: Bearer $TOKEN" in body
        assert 'id="var-name"' in body

    def test_preview_renders_with_the_given_variables(self, client, deployed):
        client.force_login(UserFactory())
        url = reverse("prompts:preview", args=["support", "refund-reply"])

        production = client.post(url, {"environment": "production", "var_name": "Ada"})
        development = client.post(url, {"environment": "development", "var_name": "<b>Ada</b>"})

        assert "Hello Ada" in production.content.decode()
        assert "Hi &lt;b&gt;Ada&lt;/b&gt;!" in development.content.decode()

    def test_preview_explains_what_is_missing(self, client, deployed):
        client.force_login(UserFactory())
        url = reverse("prompts:preview", args=["support", "refund-reply"])

        staging = client.get(url, {"environment": "staging"})
        nonsense = client.get(url, {"environment": "x\x00y"})

        assert "not deployed in staging" in staging.content.decode()
        assert nonsense.status_code == 200
        assert "Preview v1 in production" in nonsense.content.decode()

    def test_preview_of_an_invisible_prompt_is_404(self, client, member_of):
        secret = NamespaceFactory(visibility="private")
        PromptFactory(namespace=secret, name="hidden")
        client.force_login(UserFactory())

        response = client.get(reverse("prompts:preview", args=[secret.slug, "hidden"]))

        assert response.status_code == 404
