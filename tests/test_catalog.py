"""The home list: what runs where, filters and search (the same filters as the API)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from prompts.lifecycle import prompt_deprecate
from prompts.services import deployment_set, prompt_create, version_create
from tests.factories import NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


def listed(client, **params) -> list[str]:
    response = client.get(reverse("home"), params)
    assert response.status_code == 200
    return [row.prompt.full_name for row in response.context["rows"]]


def api_listed(client, **params) -> set[str]:
    response = client.get("/api/v1/prompts/", params)
    assert response.status_code == 200
    return {row["full_name"] for row in response.json()["results"]}


def deploy(version, environment, actor):
    deployment_set(
        action="deployment.seeded",
        prompt=version.prompt,
        environment=environment,
        version=version,
        actor=actor,
    )


@pytest.fixture
def catalog(namespace, author, make_version, environments):
    """Three prompts with distinct names, tags, texts, models and deployments."""
    refund = PromptFactory(namespace=namespace, name="refund-reply", tags=["billing"])
    old = make_version(refund, text="Apologise for the delay, {{name}}.")
    new = make_version(
        refund,
        text="We refunded order {{order_id}}, {{name}}.",
        variables=("order_id", "name"),
        model_config={"model": "gpt-4o-mini", "temperature": 0.2},
    )
    deploy(old, environments["production"], author)
    deploy(new, environments["staging"], author)

    chat = prompt_create(actor=author, namespace=namespace, name="triage", kind="chat")
    version_create(
        prompt=chat,
        author=author,
        messages=[
            {"role": "system", "content": "You sort tickets about shipments."},
            {"role": "user", "content": "{{ticket}}"},
        ],
        variables=["ticket"],
        model_config={"model": "claude-sonnet"},
    )
    other = NamespaceFactory(slug="marketing", team=namespace.team)
    PromptFactory(namespace=other, name="newsletter", tags=["email"], description="Weekly news")
    return {"refund": refund, "old": old, "new": new}


def test_columns_show_the_version_each_environment_runs_and_mark_staging_ahead(client, catalog):
    client.force_login(UserFactory())

    response = client.get(reverse("home"))

    row = next(r for r in response.context["rows"] if r.prompt.name == "refund-reply")
    cells = {cell.environment.slug: cell for cell in row.cells}
    assert cells["production"].deployment.version.number == 1
    assert cells["staging"].deployment.version.number == 2
    assert cells["staging"].ahead_of.slug == "production"
    assert cells["production"].ahead_of is None
    assert cells["development"].deployment is None
    body = response.content.decode()
    assert 'aria-label="v2 runs in Staging"' in body
    assert 'ahead<span class="visually-hidden"> of Production</span>' in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("billing", ["support/refund-reply"]),  # a tag
        ("order_id", ["support/refund-reply"]),  # the newest version's template
        ("GPT-4O", ["support/refund-reply"]),  # the model name, any case
        ("shipments", ["support/triage"]),  # a chat message
        ("claude", ["support/triage"]),
        ("weekly", ["marketing/newsletter"]),  # the description
        ("delay", ["support/refund-reply"]),  # v1's text: v1 still runs in production
    ],
)
def test_search_matches_tags_template_text_messages_and_model_names(
    client, catalog, query, expected
):
    client.force_login(UserFactory())

    assert listed(client, q=query) == expected
    assert api_listed(client, q=query) == set(expected)


def test_chat_search_reads_the_messages_text_not_their_json(client, namespace, author):
    chat = prompt_create(actor=author, namespace=namespace, name="greeter", kind="chat")
    version_create(
        prompt=chat,
        author=author,
        messages=[{"role": "system", "content": 'Grüße an {{name}}, "quoted" text'}],
        variables=["name"],
    )
    client.force_login(UserFactory())

    assert listed(client, q="Grüße") == ["support/greeter"]
    assert listed(client, q='"quoted"') == ["support/greeter"]
    for key in ("content", "role", "system"):
        assert listed(client, q=key) == [], key


def test_search_ignores_text_only_an_undeployed_old_version_had(
    client, namespace, author, make_version
):
    prompt = PromptFactory(namespace=namespace, name="welcome")
    make_version(prompt, text="Greetings, traveller {{name}}")
    make_version(prompt, text="Hello {{name}}")
    client.force_login(UserFactory())

    assert listed(client, q="traveller") == []
    assert listed(client, q="hello") == ["support/welcome"]


def test_search_puts_name_matches_first(client, namespace, make_version):
    by_text = PromptFactory(namespace=namespace, name="alpha")
    make_version(by_text, text="Tell {{name}} about the refund")
    PromptFactory(namespace=namespace, name="zulu-refund")
    client.force_login(UserFactory())

    assert listed(client, q="refund") == ["support/zulu-refund", "support/alpha"]


def test_full_text_search_matches_other_word_forms_on_postgresql(client, namespace, make_version):
    prompt = PromptFactory(namespace=namespace, name="apology")
    make_version(prompt, text="We are sorry the parcels arrived late, {{name}}.")
    client.force_login(UserFactory())

    assert listed(client, q="parcel arriving") == ["support/apology"]
    assert listed(client, q="parcel") == ["support/apology"]


def test_filters_by_namespace_team_tag_state_kind_and_environment(client, catalog, namespace):
    client.force_login(UserFactory())

    assert listed(client, namespace="marketing") == ["marketing/newsletter"]
    assert listed(client, tag="billing") == ["support/refund-reply"]
    assert listed(client, kind="chat") == ["support/triage"]
    assert listed(client, environment="production") == ["support/refund-reply"]
    assert listed(client, environment="development") == []
    assert len(listed(client, team=namespace.team.slug)) == 3
    assert listed(client, state="retired") == []
    assert listed(client, q="reply", environment="staging") == ["support/refund-reply"]
    assert api_listed(client, environment="production") == {"support/refund-reply"}


def test_an_unknown_filter_value_is_a_form_error_not_a_500(client, catalog):
    client.force_login(UserFactory())

    response = client.get(reverse("home"), {"state": "gone"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert response.context["rows"] == []


def test_tags_link_to_the_filtered_list(client, catalog):
    client.force_login(UserFactory())

    body = client.get(reverse("home")).content.decode()
    page = client.get(reverse("prompts:detail", args=["support", "refund-reply"]))

    assert 'href="/?tag=billing"' in body
    assert 'href="/?tag=billing"' in page.content.decode()


def test_pages_keep_the_filters(client, namespace):
    for index in range(55):
        PromptFactory(namespace=namespace, name=f"p{index:02d}", tags=["bulk"])
    client.force_login(UserFactory())

    first = client.get(reverse("home"), {"tag": "bulk"})
    second = client.get(reverse("home"), {"tag": "bulk", "page": 2})

    assert len(first.context["rows"]) == 50
    assert 'href="?tag=bulk&amp;page=2"' in first.content.decode()
    assert [row.prompt.name for row in second.context["rows"]] == [
        f"p{index:02d}" for index in range(50, 55)
    ]


def test_private_tags_stay_private(client, member_of):
    secret = NamespaceFactory(slug="secret", visibility="private")
    PromptFactory(namespace=secret, name="hidden", tags=["classified"])
    client.force_login(UserFactory())

    response = client.get(reverse("home"), {"q": "classified"})

    assert listed(client, q="classified") == []
    assert "classified" not in [tag.slug for tag in response.context["tags"]]


def test_home_query_count_does_not_grow_with_deployed_prompts(
    client, namespace, author, make_version, environments, django_assert_max_num_queries
):
    def add(count: int, start: int) -> None:
        for index in range(start, start + count):
            prompt = PromptFactory(namespace=namespace, name=f"p{index}", tags=[f"t{index}"])
            deploy(make_version(prompt), environments["staging"], author)

    client.force_login(UserFactory())
    add(2, 0)
    with django_assert_max_num_queries(14) as few:
        client.get(reverse("home"), {"q": "p"})
    add(20, 2)

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(listed(client, q="p")) == 22


def test_prompt_page_shows_what_runs_in_production_with_its_model(client, catalog):
    client.force_login(UserFactory())

    response = client.get(reverse("prompts:detail", args=["support", "refund-reply"]))

    body = response.content.decode()
    running = body[body.index('id="running-heading"') : body.index('id="use-it-heading"')]
    assert "What runs in Production" in running
    assert "Apologise for the delay, {{name}}." in running
    assert "refunded" not in running


def test_prompt_page_shows_the_furthest_environment_when_production_runs_nothing(
    client, catalog, author, environments
):
    client.force_login(UserFactory())
    before = client.get(reverse("prompts:detail", args=["support", "triage"]))
    triage = before.context["prompt"]
    deploy(triage.versions.get(number=1), environments["staging"], author)

    body = client.get(reverse("prompts:detail", args=["support", "triage"])).content.decode()

    assert "Nothing runs anywhere yet" in before.content.decode()
    home = client.get(reverse("home"))
    row = next(r for r in home.context["rows"] if r.prompt.name == "triage")
    assert {c.environment.slug: c.ahead_of and c.ahead_of.slug for c in row.cells} == {
        "development": None,  # runs nothing
        "staging": "production",  # runs v1, production nothing yet
        "production": None,
    }
    running = body[body.index('id="running-heading"') : body.index('id="use-it-heading"')]
    assert "What runs in Staging" in running
    assert "Nothing runs in Production yet" in running
    assert "You sort tickets about shipments." in running
    assert "<code>claude-sonnet</code>" in running


def test_deprecated_prompts_with_successors_cost_no_query_each(
    client, namespace, author, django_assert_max_num_queries
):
    successor = PromptFactory(namespace=namespace, name="successor")
    sunset = timezone.now() + dt.timedelta(days=30)

    def add(count: int, start: int) -> None:
        for index in range(start, start + count):
            prompt = PromptFactory(namespace=namespace, name=f"old{index}")
            prompt_deprecate(
                actor=author,
                prompt=prompt,
                reason="use the successor",
                sunset_at=sunset,
                successor=successor,
            )

    client.force_login(UserFactory())
    add(2, 0)
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("home"))
    add(10, 2)

    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(reverse("home")).content.decode()
    assert body.count("/prompts/support/successor/") >= 12
