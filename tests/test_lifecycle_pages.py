"""The lifecycle in the portal: what the prompt, version and home pages show, and the forms."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEntry
from prompts.lifecycle import prompt_deprecate, prompt_retire
from prompts.models import Prompt
from prompts.templatetags.lifecycle_tags import sunset_countdown
from teams.models import Team
from tests.factories import PromptFactory

pytestmark = pytest.mark.django_db


def url(name, prompt, *args):
    return reverse(f"prompts:{name}", args=[prompt.namespace.slug, prompt.name, *args])


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def owner(namespace, member_of):
    return member_of(namespace, "owner", username="olive")


@pytest.fixture
def successor(namespace):
    return PromptFactory(namespace=namespace, name="refund-reply-v2")


@pytest.fixture
def deprecated(prompt, owner, successor):
    return prompt_deprecate(
        actor=owner,
        prompt=prompt,
        reason="Use the v2 wording.",
        sunset_at=timezone.now() + dt.timedelta(days=12, hours=1),
        successor=successor,
    )


def test_prompt_version_and_home_pages_show_state_reason_countdown_and_successor(
    client, owner, deprecated, make_version
):
    make_version(deprecated)
    client.force_login(owner)
    sunset_day = timezone.localtime(deprecated.sunset_at).date().isoformat()

    for page in (
        client.get(url("detail", deprecated)),
        client.get(url("version", deprecated, 1)),
        client.get(reverse("home")),
    ):
        body = text(page)
        assert page.status_code == 200
        assert "Deprecated" in body
        assert f"sunset in 12 days, {sunset_day}" in body
        assert 'href="/prompts/support/refund-reply-v2/"' in body
    detail = text(client.get(url("detail", deprecated)))
    assert "Use the v2 wording." in detail
    assert f'href="{url("lifecycle", deprecated)}"' in detail


def test_a_passed_sunset_counts_up(client, owner, deprecated):
    Prompt.objects.filter(pk=deprecated.pk).update(
        sunset_at=timezone.now() - dt.timedelta(days=3, minutes=5)
    )
    client.force_login(owner)

    assert "sunset passed 3 days ago" in text(client.get(url("detail", deprecated)))


def test_the_prompt_page_shows_the_team_contact(client, owner, prompt):
    Team.objects.filter(pk=prompt.namespace.team_id).update(
        contact_email="support-team@example.com", contact_channel="#support-prompts"
    )
    client.force_login(owner)

    body = text(client.get(url("detail", prompt)))

    assert (
        'Contact: <a href="mailto:support-team@example.com">support-team@example.com</a>'
        ' · <span class="channel">#support-prompts</span>'
    ) in body


def test_deprecate_through_the_form(client, owner, prompt, successor):
    client.force_login(owner)
    day = (timezone.localdate() + dt.timedelta(days=20)).isoformat()

    response = client.post(
        url("deprecate", prompt),
        {"reason": "Old wording", "sunset_at": day, "successor": "support/refund-reply-v2"},
    )

    assert response.status_code == 302
    prompt.refresh_from_db()
    assert prompt.state == "deprecated"
    assert prompt.successor == successor
    local = timezone.localtime(prompt.sunset_at)
    assert (local.date().isoformat(), local.hour, local.minute) == (day, 23, 59)
    assert AuditEntry.objects.filter(action="prompt.deprecated", actor="olive").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "x", "sunset_at": "2001-01-01"}, "The sunset must be in the future."),
        ({"reason": "x", "sunset_at": "", "successor": ""}, "This field is required."),
        ({"reason": "x", "sunset_at": "2099-01-01", "successor": "support/refund-reply"}, "itself"),
        ({"reason": "x", "sunset_at": "2099-01-01", "successor": "nope/nope"}, "No prompt"),
    ],
)
def test_refused_deprecations_are_form_errors(client, owner, prompt, data, message):
    client.force_login(owner)

    response = client.post(url("deprecate", prompt), {"successor": "", **data})

    assert response.status_code == 422
    assert message in response.content.decode()
    assert Prompt.objects.get(pk=prompt.pk).state == "active"


def test_early_retirement_is_refused_as_403_for_owners(client, owner, deprecated):
    client.force_login(owner)

    page = text(client.get(url("lifecycle", deprecated)))
    response = client.post(url("retire", deprecated), {"justification": "now"})

    assert "Retirement opens at the sunset" in page
    assert response.status_code == 403
    assert "only staff" in response.content.decode()
    assert Prompt.objects.get(pk=deprecated.pk).state == "deprecated"


def test_staff_retire_early_with_a_justification_and_reactivation_brings_it_back(
    client, staff, owner, deprecated
):
    client.force_login(staff)

    missing = client.post(url("retire", deprecated), {"justification": ""})
    retired = client.post(url("retire", deprecated), {"justification": "Incident 12."})

    assert missing.status_code == 422
    assert retired.status_code == 302
    assert Prompt.objects.get(pk=deprecated.pk).state == "retired"
    assert "Retired: resolving it answers 410 Gone" in text(client.get(url("detail", deprecated)))
    client.force_login(owner)
    assert client.post(url("reactivate", deprecated), {"justification": ""}).status_code == 422
    back = client.post(url("reactivate", deprecated), {"justification": "Still called."})
    assert back.status_code == 302
    assert Prompt.objects.get(pk=deprecated.pk).state == "active"


def test_viewers_see_no_forms_and_are_refused(client, namespace, member_of, prompt):
    viewer = member_of(namespace, "viewer")
    client.force_login(viewer)

    detail = text(client.get(url("detail", prompt)))
    page = text(client.get(url("lifecycle", prompt)))
    response = client.post(
        url("deprecate", prompt), {"reason": "x", "sunset_at": "2099-01-01", "successor": ""}
    )

    assert url("lifecycle", prompt) not in detail
    assert "Only maintainers and owners" in page
    assert '<form method="post"' not in page.split("<main", 1)[-1].split("</main>")[0]
    assert response.status_code == 403
    assert Prompt.objects.get(pk=prompt.pk).state == "active"


def test_a_retired_prompt_refuses_a_new_version_in_the_portal(client, owner, staff, prompt):
    prompt_retire(actor=staff, prompt=prompt, reason="Gone.")
    client.force_login(owner)

    response = client.post(
        url("version_create", prompt),
        {
            "template": "Hi {{name}}",
            "variables": "name",
            "template_format": "mustache",
            "model_config": "",
            "message": "One more",
        },
    )

    assert response.status_code == 422
    assert "is retired; reactivate it first" in response.content.decode()


def test_the_lifecycle_forms_are_get_safe(client, owner, prompt):
    client.force_login(owner)

    assert client.get(url("deprecate", prompt)).status_code == 405
    assert client.get(url("lifecycle", prompt)).status_code == 200


def test_the_lifecycle_page_of_a_deprecated_prompt_fills_in_the_deprecation(
    client, owner, deprecated
):
    client.force_login(owner)
    day = timezone.localtime(deprecated.sunset_at).date().isoformat()

    body = text(client.get(url("lifecycle", deprecated)))

    assert f'value="{day}"' in body
    assert 'value="support/refund-reply-v2"' in body
    assert "Use the v2 wording.</textarea>" in body
    assert "Reactivate" in body


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (dt.timedelta(days=12, hours=5), "sunset in 12 days, "),
        (dt.timedelta(days=1, minutes=1), "sunset in 1 day, "),
        (dt.timedelta(hours=5, minutes=3), "sunset in 5 hours, "),
        (dt.timedelta(seconds=20), "sunset in 1 minute, "),
        (-dt.timedelta(days=3, hours=2), "sunset passed 3 days ago, "),
        (-dt.timedelta(minutes=10), "sunset passed 10 minutes ago, "),
    ],
)
def test_the_sunset_countdown_reads_in_whole_units(offset, expected):
    now = timezone.now()
    moment = now + offset

    shown = sunset_countdown(moment, now)

    assert shown == expected + timezone.localtime(moment).date().isoformat()
