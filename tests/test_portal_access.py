"""Access control of the portal pages: who sees which page and form, who may write, and
that a refused write changes nothing."""

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.urls import reverse

from approvals.selectors import promotion_rights
from approvals.services import promotion_right_grant
from prompts.models import Environment, Prompt, PromptVersion
from teams.models import ApiToken, Membership, Namespace, Team
from teams.tokens import personal_token_create, service_token_create
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    UserFactory,
    system_actor,
)

pytestmark = pytest.mark.django_db

ROLES = ("viewer", "outsider", "maintainer", "owner", "staff")
TEAM_MANAGERS = {"owner", "staff"}
PROMPT_WRITERS = {"maintainer", "owner", "staff"}


@pytest.fixture
def world(namespace, prompt, member_of, staff, make_version):
    """The `support` namespace (internal) of one team, its people and things to act on."""
    people = {
        "viewer": member_of(namespace, role="viewer", username="vera"),
        "maintainer": member_of(namespace, role="maintainer", username="max"),
        "owner": member_of(namespace, role="owner", username="olga"),
        "outsider": member_of(NamespaceFactory(slug="elsewhere"), role="owner", username="otto"),
        "staff": staff,
    }
    UserFactory(username="newbie")
    promotion_right_grant(
        actor=system_actor(),
        namespace=namespace,
        environment=Environment.objects.get(slug="staging"),
        user=UserFactory(username="rita"),
    )
    service_token, _ = service_token_create(
        actor=system_actor(), namespaces=[namespace], name="deploy bot"
    )
    make_version(prompt, text="Hello {{name}}")
    return SimpleNamespace(
        people=people,
        team=namespace.team,
        namespace=namespace,
        prompt=prompt,
        service_token=service_token,
    )


def state() -> dict:
    """Everything the portal's writes could touch."""
    return {
        "teams": list(Team.objects.values_list("slug", "name", "description").order_by("slug")),
        "members": sorted(Membership.objects.values_list("team__slug", "user__username", "role")),
        "namespaces": list(
            Namespace.objects.values_list("slug", "description", "visibility").order_by("slug")
        ),
        "rights": sorted(
            (
                namespace.slug,
                right.environment.slug,
                right.user.username if right.user else "",
                right.team.slug if right.team else "",
            )
            for namespace in Namespace.objects.all()
            for right in promotion_rights(namespace=namespace)
        ),
        "tokens": sorted(ApiToken.objects.values_list("prefix", "revoked")),
        "prompts": sorted(Prompt.objects.values_list("namespace__slug", "name")),
        "versions": PromptVersion.objects.count(),
    }


@dataclass(frozen=True)
class Write:
    name: str
    allowed: frozenset[str]
    url: object
    data: dict
    success_status: int = 302


WRITES = [
    Write(
        "team_update",
        TEAM_MANAGERS,
        lambda w: reverse("teams:team_update", args=[w.team.slug]),
        {"name": "Renamed", "description": "New words"},
    ),
    Write(
        "member_add",
        TEAM_MANAGERS,
        lambda w: reverse("teams:member_add", args=[w.team.slug]),
        {"username": "newbie", "role": "viewer"},
    ),
    Write(
        "member_role",
        TEAM_MANAGERS,
        lambda w: reverse("teams:member_role", args=[w.team.slug, "vera"]),
        {"role": "maintainer"},
    ),
    Write(
        "member_remove",
        TEAM_MANAGERS,
        lambda w: reverse("teams:member_remove", args=[w.team.slug, "vera"]),
        {},
    ),
    Write(
        "namespace_create",
        TEAM_MANAGERS,
        lambda w: reverse("teams:namespace_create", args=[w.team.slug]),
        {"slug": "brand-new", "description": "", "visibility": "internal"},
    ),
    Write(
        "namespace_update",
        TEAM_MANAGERS,
        lambda w: reverse("approvals:namespace_update", args=[w.namespace.slug]),
        {"description": "Changed", "visibility": "private"},
    ),
    Write(
        "right_grant",
        TEAM_MANAGERS,
        lambda w: reverse("approvals:right_grant", args=[w.namespace.slug]),
        {"environment": "staging", "username": "vera"},
    ),
    Write(
        "right_revoke",
        TEAM_MANAGERS,
        lambda w: reverse("approvals:right_revoke", args=[w.namespace.slug]),
        {"environment": "staging", "username": "rita"},
    ),
    Write(
        "service_token_create",
        TEAM_MANAGERS,
        lambda w: reverse("approvals:service_token_create", args=[w.namespace.slug]),
        {"name": "new bot"},
    ),
    Write(
        "service_token_revoke",
        TEAM_MANAGERS,
        lambda w: reverse(
            "approvals:service_token_revoke", args=[w.namespace.slug, w.service_token.prefix]
        ),
        {},
    ),
    Write(
        "prompt_create",
        PROMPT_WRITERS,
        lambda w: reverse("prompts:create"),
        {"namespace": "support", "name": "brand-new", "kind": "text", "tags": "a-tag"},
    ),
    Write(
        "version_create",
        PROMPT_WRITERS,
        lambda w: reverse("prompts:version_create", args=[w.namespace.slug, w.prompt.name]),
        {
            "template": "Hello there {{name}}",
            "template_format": "mustache",
            "variables": "name",
            "message": "Friendlier greeting",
        },
    ),
]


def _login_redirect(response, url: str) -> bool:
    return response.status_code == 302 and response["Location"] == f"{reverse('login')}?next={url}"


# --- Anonymous visitors -----------------------------------------------------------------------


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_anonymous_writes_are_sent_to_sign_in_and_change_nothing(client, world, write):
    url = write.url(world)
    before = state()

    response = client.post(url, write.data)

    assert _login_redirect(response, url)
    assert state() == before


@pytest.mark.parametrize(
    "url_of",
    [
        lambda w: reverse("teams:team", args=[w.team.slug]),
        lambda w: reverse("approvals:namespace", args=[w.namespace.slug]),
        lambda w: reverse("teams:tokens"),
        lambda w: reverse("prompts:create"),
        lambda w: reverse("prompts:version_create", args=[w.namespace.slug, w.prompt.name]),
    ],
    ids=["team", "namespace", "tokens", "prompt_create", "version_create"],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, world, url_of):
    url = url_of(world)

    assert _login_redirect(client.get(url), url)


# --- The write matrix -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_writes_are_allowed_to_exactly_their_roles(client, world, write, role):
    client.force_login(world.people[role])
    before = state()

    response = client.post(write.url(world), write.data)

    if role in write.allowed:
        assert response.status_code == write.success_status, response.content.decode()[:2000]
        assert state() != before
    else:
        assert response.status_code == 403
        assert state() == before


# --- Pages and the forms they offer -----------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_team_page_shows_members_to_everyone_and_forms_to_owners(client, world, role):
    client.force_login(world.people[role])

    response = client.get(reverse("teams:team", args=[world.team.slug]))

    body = response.content.decode()
    assert response.status_code == 200
    for username in ("vera", "max", "olga"):
        assert username in body
    assert 'href="/namespaces/support/"' in body
    may_manage = role in TEAM_MANAGERS
    assert ("Add a member" in body) is may_manage
    assert ("Edit team details" in body) is may_manage
    assert ("New namespace" in body) is may_manage
    assert ("Change the role of vera" in body) is may_manage


@pytest.mark.parametrize("role", ROLES)
def test_namespace_page_shows_forms_by_role(client, world, role):
    client.force_login(world.people[role])

    response = client.get(reverse("approvals:namespace", args=[world.namespace.slug]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "refund-reply" in body
    assert "rita" in body
    may_manage = role in TEAM_MANAGERS
    assert ("Service tokens" in body) is may_manage
    assert (world.service_token.prefix in body) is may_manage
    assert ("Grant a promotion right" in body) is may_manage
    assert ("Revoke the right of rita in staging" in body) is may_manage
    assert ("Edit description and visibility" in body) is may_manage
    assert ("New prompt in support" in body) is (role in PROMPT_WRITERS)


@pytest.mark.parametrize("role", ROLES)
def test_new_version_button_and_form_only_for_prompt_writers(client, world, role):
    client.force_login(world.people[role])
    args = [world.namespace.slug, world.prompt.name]

    prompt_page = client.get(reverse("prompts:detail", args=args)).content.decode()
    form_page = client.get(reverse("prompts:version_create", args=args))

    may_write = role in PROMPT_WRITERS
    assert (reverse("prompts:version_create", args=args) in prompt_page) is may_write
    assert form_page.status_code == (200 if may_write else 403)


def test_prompt_creation_offers_only_namespaces_the_user_may_write_in(client, world, member_of):
    maintainer = world.people["maintainer"]
    NamespaceFactory(slug="readable-only")
    mine_too = NamespaceFactory(slug="another-mine")
    MembershipFactory(team=mine_too.team, user=maintainer, role="owner")
    client.force_login(maintainer)

    response = client.get(reverse("prompts:create"), {"namespace": "support"})

    choices = response.context["form"].fields["namespace"].queryset
    assert sorted(choices.values_list("slug", flat=True)) == ["another-mine", "support"]
    assert response.context["form"]["namespace"].value() == "support"
    assert "readable-only" not in response.content.decode()


def test_prompt_creation_page_has_no_form_for_readers(client, world):
    client.force_login(world.people["viewer"])

    response = client.get(reverse("prompts:create"))

    assert response.status_code == 200
    assert "You may not create prompts" in response.content.decode()
    assert '<form method="post" class="card' not in response.content.decode()


def test_unknown_team_and_namespace_are_404(client, world):
    client.force_login(world.people["staff"])

    assert client.get(reverse("teams:team", args=["no-such-team"])).status_code == 404
    assert client.get(reverse("approvals:namespace", args=["no-such-ns"])).status_code == 404


# --- Private namespaces -----------------------------------------------------------------------


@pytest.fixture
def secret(world):
    """A private namespace of another team, with a prompt and a service token."""
    namespace = NamespaceFactory(slug="secret-ns", visibility="private")
    insider = UserFactory(username="ingrid")
    MembershipFactory(team=namespace.team, user=insider, role="viewer")
    prompt = PromptFactory(namespace=namespace, name="classified")
    token, _ = service_token_create(actor=system_actor(), namespaces=[namespace], name="bot")
    return SimpleNamespace(namespace=namespace, prompt=prompt, token=token, insider=insider)


@pytest.mark.parametrize(
    ("method", "url_of", "data"),
    [
        ("get", lambda s: reverse("approvals:namespace", args=[s.namespace.slug]), {}),
        (
            "post",
            lambda s: reverse("approvals:namespace_update", args=[s.namespace.slug]),
            {"description": "x", "visibility": "internal"},
        ),
        (
            "post",
            lambda s: reverse("approvals:right_grant", args=[s.namespace.slug]),
            {"environment": "development", "username": "otto"},
        ),
        (
            "post",
            lambda s: reverse("approvals:service_token_create", args=[s.namespace.slug]),
            {"name": "sneaky"},
        ),
        (
            "post",
            lambda s: reverse(
                "approvals:service_token_revoke", args=[s.namespace.slug, s.token.prefix]
            ),
            {},
        ),
        ("get", lambda s: reverse("prompts:version_create", args=["secret-ns", "classified"]), {}),
        (
            "post",
            lambda s: reverse("prompts:version_create", args=["secret-ns", "classified"]),
            {"template": "Hi", "template_format": "mustache"},
        ),
    ],
    ids=[
        "page",
        "update",
        "grant",
        "token-create",
        "token-revoke",
        "version-form",
        "version-post",
    ],
)
def test_other_teams_private_namespace_is_404_for_every_action(
    client, world, secret, method, url_of, data
):
    client.force_login(world.people["outsider"])
    before = state()

    response = getattr(client, method)(url_of(secret), data)

    assert response.status_code == 404
    assert state() == before


def test_private_namespace_is_hidden_on_its_teams_page_but_shown_to_members(client, secret):
    url = reverse("teams:team", args=[secret.namespace.team.slug])
    client.force_login(UserFactory(username="stranger"))
    assert "secret-ns" not in client.get(url).content.decode()

    client.force_login(secret.insider)
    assert "secret-ns" in client.get(url).content.decode()
    assert client.get(reverse("approvals:namespace", args=["secret-ns"])).status_code == 200


def test_creating_a_prompt_in_an_invisible_namespace_is_a_form_error(client, world, secret):
    client.force_login(world.people["maintainer"])
    before = state()

    response = client.post(
        reverse("prompts:create"), {"namespace": "secret-ns", "name": "leak", "kind": "text"}
    )

    assert response.status_code == 422
    assert "secret-ns" not in response.content.decode()
    assert state() == before


# --- Rules the services enforce, shown on the pages ---------------------------------------------


def test_owner_may_not_grant_a_protected_environment_but_staff_may(client, world):
    url = reverse("approvals:right_grant", args=[world.namespace.slug])
    data = {"environment": "production", "username": "vera"}
    client.force_login(world.people["owner"])
    before = state()

    page = client.get(reverse("approvals:namespace", args=[world.namespace.slug])).content.decode()
    refused = client.post(url, data)

    assert '<option value="production"' not in page
    assert refused.status_code == 422
    assert state() == before
    client.force_login(world.people["staff"])
    assert client.post(url, data).status_code == 302
    rights = promotion_rights(namespace=world.namespace)
    assert ("production", "vera") in {
        (r.environment.slug, getattr(r.user, "username", None)) for r in rights
    }


def test_rights_are_granted_to_teams_too(client, world):
    client.force_login(world.people["owner"])
    url = reverse("approvals:right_grant", args=[world.namespace.slug])

    both = client.post(url, {"environment": "staging", "username": "vera", "team": "x"})
    unknown = client.post(url, {"environment": "staging", "team": "no-such-team"})
    granted = client.post(url, {"environment": "staging", "team": world.team.slug})

    assert both.status_code == 422
    assert "exactly one" in both.content.decode()
    assert unknown.status_code == 422
    assert granted.status_code == 302
    teams_with_rights = {r.team for r in promotion_rights(namespace=world.namespace) if r.team}
    assert teams_with_rights == {world.team}


def test_the_last_owner_cannot_step_down(client, world):
    owner = world.people["owner"]
    client.force_login(owner)
    before = state()

    demote = client.post(
        reverse("teams:member_role", args=[world.team.slug, "olga"]), {"role": "viewer"}
    )
    remove = client.post(reverse("teams:member_remove", args=[world.team.slug, "olga"]))

    assert demote.status_code == 422
    assert remove.status_code == 422
    assert "last owner" in demote.content.decode()
    assert state() == before


def test_adding_an_existing_member_or_unknown_user_is_a_form_error(client, world):
    client.force_login(world.people["owner"])
    url = reverse("teams:member_add", args=[world.team.slug])
    before = state()

    existing = client.post(url, {"username": "vera", "role": "owner"})
    unknown = client.post(url, {"username": "nobody-here", "role": "viewer"})

    assert existing.status_code == 422
    assert "Already a member" in existing.content.decode()
    assert unknown.status_code == 422
    assert "No active user named" in unknown.content.decode()
    assert state() == before


def test_member_changes_through_htmx_answer_the_members_section(client, world):
    client.force_login(world.people["owner"])

    response = client.post(
        reverse("teams:member_role", args=[world.team.slug, "vera"]),
        {"role": "maintainer"},
        HTTP_HX_REQUEST="true",
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="members"')
    assert "vera is now maintainer." in body
    assert Membership.objects.get(user__username="vera").role == "maintainer"


def test_bad_namespace_slug_is_shown_on_the_team_page(client, world):
    client.force_login(world.people["owner"])

    response = client.post(
        reverse("teams:namespace_create", args=[world.team.slug]),
        {"slug": "Bad Slug", "visibility": "internal"},
    )

    assert response.status_code == 422
    assert "Enter a valid slug" in response.content.decode()
    assert not Namespace.objects.filter(slug="Bad Slug").exists()


# --- Tokens: secrets appear once ----------------------------------------------------------------


def test_service_token_secret_is_shown_once(client, world):
    client.force_login(world.people["owner"])
    page_url = reverse("approvals:namespace", args=[world.namespace.slug])

    posted = client.post(
        reverse("approvals:service_token_create", args=[world.namespace.slug]), {"name": "search"}
    )

    assert posted.status_code == 302
    assert posted["Location"] == page_url + "#new-token"
    response = client.get(page_url)
    secret = response.context["secret"]
    body = response.content.decode()
    assert body.count(secret) == 1
    assert "Copy it now, it will not be shown again." in body
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(name="search")
    assert list(token.namespaces.all()) == [world.namespace]
    assert token.kind == "service"
    later = client.get(page_url).content.decode()
    assert secret not in later
    assert secret.split(".")[1] not in later
    assert token.prefix in later
    assert secret not in str(dict(client.session))
    assert ApiToken.objects.filter(name="search").count() == 1


def test_a_held_service_token_secret_shows_only_on_its_own_namespace_page(client, world):
    client.force_login(world.people["staff"])
    client.post(
        reverse("approvals:service_token_create", args=[world.namespace.slug]), {"name": "search"}
    )

    elsewhere = client.get(reverse("approvals:namespace", args=["elsewhere"]))
    personal = client.get(reverse("teams:tokens"))
    own = client.get(reverse("approvals:namespace", args=[world.namespace.slug]))

    assert "secret" not in elsewhere.context
    assert "secret" not in personal.context
    assert own.context["secret"]


def test_service_token_revoke_refuses_tokens_of_other_namespaces(client, world):
    other, _ = service_token_create(
        actor=system_actor(), namespaces=[Namespace.objects.get(slug="elsewhere")], name="x"
    )
    client.force_login(world.people["owner"])
    before = state()

    response = client.post(
        reverse("approvals:service_token_revoke", args=[world.namespace.slug, other.prefix])
    )

    assert response.status_code == 404
    assert state() == before


def test_personal_token_secret_is_shown_once_and_listed_after(client, world):
    user = world.people["viewer"]
    client.force_login(user)
    url = reverse("teams:tokens")

    posted = client.post(url, {"name": "laptop", "expires_at": "2999-12-31"})

    assert posted.status_code == 302
    assert posted["Location"] == url + "#new-token"
    response = client.get(url)
    secret = response.context["secret"]
    assert response.status_code == 200
    assert response.content.decode().count(secret) == 1
    assert "Copy it now, it will not be shown again." in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=user, name="laptop")
    assert token.expiry_date.date().isoformat() == "3000-01-01"
    later = client.get(url).content.decode()
    assert secret not in later
    assert "laptop" in later
    assert token.prefix in later
    assert "end of 2999-12-31 (UTC)" in later
    assert secret not in str(dict(client.session))


def test_personal_token_page_lists_and_revokes_only_your_own(client, world):
    mine, _ = personal_token_create(actor=world.people["viewer"], name="mine")
    theirs, _ = personal_token_create(actor=world.people["maintainer"], name="theirs")
    client.force_login(world.people["viewer"])

    page = client.get(reverse("teams:tokens")).content.decode()
    refused = client.post(reverse("teams:token_revoke", args=[theirs.prefix]))
    revoked = client.post(reverse("teams:token_revoke", args=[mine.prefix]))

    assert mine.prefix in page
    assert theirs.prefix not in page
    assert refused.status_code == 404
    assert revoked.status_code == 302
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert (mine.revoked, theirs.revoked) == (True, False)


def test_personal_token_form_errors(client, world):
    client.force_login(world.people["viewer"])

    past = client.post(reverse("teams:tokens"), {"name": "old", "expires_at": "2001-01-01"})
    nameless = client.post(reverse("teams:tokens"), {"name": ""})

    assert past.status_code == 422
    assert "The expiry must be in the future." in past.content.decode()
    assert nameless.status_code == 422
    assert not ApiToken.objects.filter(kind="personal").exists()


# --- Query counts -------------------------------------------------------------------------------


def test_team_page_query_count_is_constant_in_members(client, world, django_assert_max_num_queries):
    client.force_login(world.people["owner"])
    url = reverse("teams:team", args=[world.team.slug])
    with django_assert_max_num_queries(15) as few:
        client.get(url)
    for index in range(25):
        MembershipFactory(
            team=world.team, user=UserFactory(), role=("viewer", "maintainer", "owner")[index % 3]
        )
        NamespaceFactory(team=world.team)

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_namespace_page_query_count_is_constant_in_prompts(
    client, world, make_version, django_assert_max_num_queries
):
    client.force_login(world.people["owner"])
    url = reverse("approvals:namespace", args=[world.namespace.slug])
    with django_assert_max_num_queries(30) as few:
        client.get(url)
    staging = Environment.objects.get(slug="staging")
    for index in range(20):
        prompt = PromptFactory(namespace=world.namespace, tags=[f"tag-{index}"])
        make_version(prompt)
        promotion_right_grant(
            actor=system_actor(), namespace=world.namespace, environment=staging, user=UserFactory()
        )
        service_token_create(actor=system_actor(), namespaces=[world.namespace], name=f"t{index}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
