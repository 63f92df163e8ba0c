"""The promotion request page points at who may decide, and a decision taken through htmx
updates the rest of the page too: the Reviews badge, what runs now (out-of-band swaps)."""

import pytest

from approvals import services
from approvals.selectors import promotion_event_recipients
from approvals.services import promotion_right_grant, promotion_right_revoke
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.test_portal_promotions import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(environments):
    return World(environments)


def body_of(client, world, pk) -> str:
    response = client.get(world.url("request", pk))
    assert response.status_code == 200
    return response.content.decode()


def eligible_line(body: str) -> str:
    start = body.index('<p class="eligible">')
    return body[start : body.index("</p>", start)]


def test_the_request_page_names_who_may_approve(client, world):
    client.force_login(world["viewer"])

    line = eligible_line(body_of(client, world, world.pending.pk))

    assert "Can approve:" in line
    assert "<strong>r1</strong>" in line
    assert "<strong>r2</strong>" in line
    assert "mia" not in line  # the requester
    assert "writer" not in line  # the version's author
    assert f'href="/namespaces/{world.namespace.slug}/#promotion-rights"' in line


def test_holders_through_a_team_count_and_deactivated_people_do_not(client, world):
    reviewers = TeamFactory(slug="reviewers")
    MembershipFactory(team=reviewers, user=UserFactory(username="tess"))
    promotion_right_grant(
        actor=world["staff"],
        namespace=world.namespace,
        environment=world.env["staging"],
        team=reviewers,
    )
    world.r2.is_active = False
    world.r2.save()
    client.force_login(world["viewer"])

    line = eligible_line(body_of(client, world, world.pending.pk))

    assert "<strong>tess</strong>" in line
    assert "<strong>r1</strong>" in line
    assert "r2" not in line
    assert promotion_event_recipients(request_id=world.pending.pk, event="requested") == [
        "r1",
        "tess",
    ]


def test_nobody_eligible_is_said_plainly(client, world):
    for reviewer in (world["reviewer"], world.r2):
        promotion_right_revoke(
            actor=world["staff"],
            namespace=world.namespace,
            environment=world.env["staging"],
            user=reviewer,
        )
    client.force_login(world["maintainer"])

    line = eligible_line(body_of(client, world, world.pending.pk))

    assert "Nobody else can approve this" in line


def test_who_approved_already_is_no_longer_named(client, world, environments):
    created = world.request(world.v2, "production")
    services.promotion_approve(actor=world["reviewer"], request=created)
    client.force_login(world["viewer"])

    line = eligible_line(body_of(client, world, created.pk))

    assert "<strong>r2</strong>" in line
    assert "r1" not in line


def test_an_expired_request_names_nobody(client, world, settings):
    settings.PROMOTION_REQUEST_MAX_AGE_DAYS = 0
    client.force_login(world["viewer"])

    assert '<p class="eligible">' not in body_of(client, world, world.pending.pk)


def test_a_closed_request_names_nobody(client, world):
    services.promotion_approve(actor=world["reviewer"], request=world.pending)
    client.force_login(world["viewer"])

    assert '<p class="eligible">' not in body_of(client, world, world.pending.pk)


def test_an_htmx_approval_also_updates_the_badge_and_what_runs_now(client, world):
    client.force_login(world["reviewer"])
    before = body_of(client, world, world.pending.pk)
    assert "Staging runs v2 now." in before
    badge = client.get(world.url("inbox_count")).content.decode()
    assert ">1<" in badge

    response = client.post(
        world.url("approve", world.pending.pk), {"comment": "ok"}, HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="decision"')
    badge = body[body.index('<span id="inbox-count"') :]
    assert badge.startswith('<span id="inbox-count" hx-swap-oob="true"></span>')
    running = body[body.index('<section id="running-now"') :]
    assert running.startswith('<section id="running-now" aria-labelledby="running-now-heading"')
    assert 'hx-swap-oob="true"' in running.split(">", 1)[0]
    assert "Staging runs v3 now, the version this request promotes." in running
    changes = body[body.index('<div id="changes-context" hx-swap-oob="true">') :]
    assert "Staging runs v3 now. Compared with v2, which ran there before this request" in changes


def test_a_refused_htmx_decision_still_answers_the_panel_first(client, world):
    client.force_login(world["maintainer"])

    response = client.post(
        world.url("approve", world.pending.pk), {"comment": ""}, HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="decision"')
    assert "Staging runs v2 now." in body


def test_the_request_page_costs_the_same_with_many_reviewers(
    client, world, django_assert_max_num_queries
):
    client.force_login(world["viewer"])
    with django_assert_max_num_queries(60) as few:
        body_of(client, world, world.pending.pk)
    for index in range(12):
        promotion_right_grant(
            actor=world["staff"],
            namespace=world.namespace,
            environment=world.env["staging"],
            user=UserFactory(username=f"extra{index}", first_name=f"Extra {index}"),
        )

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert "<strong>extra11</strong>" in body_of(client, world, world.pending.pk)
