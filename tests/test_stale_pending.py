"""Promotion requests still pending after PROMOTION_REQUEST_REMIND_DAYS are listed in the
owning team's daily stale digest (approvals registers the finder with prompts.stale)."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from approvals.services import promotion_approve
from prompts.tasks import stale_digest
from teams.notifications.events import STALE_DIGEST
from teams.notifications.models import Notification
from tests.test_portal_promotions import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(environments):
    return World(environments)


def digest_bodies(user) -> list[str]:
    return [n.body for n in Notification.objects.filter(user=user, event=STALE_DIGEST)]


def test_a_request_waiting_past_the_reminder_is_in_the_team_digest_once(world, settings):
    settings.PROMOTION_REQUEST_REMIND_DAYS = 3
    requested = world.pending.created_at
    maintainer = world["maintainer"]  # mia, who asked, is a maintainer of the team

    with time_machine.travel(requested + dt.timedelta(days=2), tick=False):
        stale_digest()
    assert digest_bodies(maintainer) == []  # not yet

    with time_machine.travel(requested + dt.timedelta(days=4), tick=False):
        stale_digest()
        stale_digest()  # nothing new: not sent again
    (body,) = digest_bodies(maintainer)
    assert "Promotion requests pending for a while" in body
    assert (
        f"request #{world.pending.pk}: alpha/greet v3 to Staging, asked by mia 4 days ago" in body
    )


def test_a_decided_request_is_no_longer_listed(world, settings):
    settings.PROMOTION_REQUEST_REMIND_DAYS = 3
    promotion_approve(actor=world["reviewer"], request=world.pending)

    with time_machine.travel(timezone.now() + dt.timedelta(days=4), tick=False):
        stale_digest()

    assert not any("request #" in body for body in digest_bodies(world["maintainer"]))
