import pytest

from tests.factories import MembershipFactory, TeamFactory, UserFactory


@pytest.fixture
def team(db):
    return TeamFactory(slug="support-team")


@pytest.fixture
def people(team):
    """One person per role of `team`, and an outsider."""
    found = {}
    for role in ("owner", "maintainer", "viewer"):
        found[role] = UserFactory(username=f"{role}-1")
        MembershipFactory(team=team, user=found[role], role=role)
    found["outsider"] = UserFactory(username="outsider-1")
    return found


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the block's on-commit work (the outbox's e-mail and webhook tasks) at its end."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
