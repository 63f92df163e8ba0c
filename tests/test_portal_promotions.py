"""The portal's promotion pages: reviewer inbox, request page with its decisions, the request
form, deployment history with rollback, and the audit log. Who may see and do what, that a
refused write changes nothing, and the whole workflow driven through the forms."""

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from approvals import services
from approvals.models import PromotionRequest, Review
from approvals.services import promotion_right_grant
from portal.audit import selectors as audit_module
from portal.audit.models import AuditEntry
from prompts.models import Deployment
from prompts.services import version_create
from tests.api.conftest import personal_client
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ("viewer", "outsider", "maintainer", "reviewer", "author", "staff", "auditor")
FOUR_EYES_REQUESTER = "You requested this promotion; someone else must approve it (four-eyes rule)."


class World:
    """Namespace `alpha` (internal) of one team. `writer` (maintainer) wrote v1..v3 of
    alpha/greet, `mia` (maintainer) requests promotions, `r1` and `r2` (viewers) hold the
    staging and production rights; `vera` is a viewer, `otto` belongs to another team,
    `boss` is staff without promotion rights, `audrey` is in the auditors group.

    Staging ran v1 and runs v2 now (so it can be rolled back); v3 runs in development and
    waits for approval in staging (`pending`)."""

    def __init__(self, environments):
        self.namespace = NamespaceFactory(slug="alpha")
        team = self.namespace.team
        self.env = environments
        self.people = {
            "viewer": self._member("vera", "viewer"),
            "outsider": UserFactory(username="otto"),
            "maintainer": self._member("mia", "maintainer"),
            "reviewer": self._member("r1", "viewer"),
            "author": self._member("writer", "maintainer"),
            "staff": UserFactory(username="boss", is_staff=True),
            "auditor": UserFactory(username="audrey"),
        }
        MembershipFactory(team=NamespaceFactory(slug="elsewhere").team, user=self["outsider"])
        self["auditor"].groups.add(Group.objects.get(name="auditors"))
        self.r2 = self._member("r2", "viewer")
        for slug in ("staging", "production"):
            for reviewer in (self["reviewer"], self.r2):
                promotion_right_grant(
                    actor=self["staff"],
                    namespace=self.namespace,
                    environment=environments[slug],
                    user=reviewer,
                )
        self.team = team
        self.prompt = PromptFactory(namespace=self.namespace, name="greet")
        self.v1, self.v2, self.v3 = (
            version_create(
                prompt=self.prompt, author=self["author"], template=text, variables=["name"]
            )
            for text in ("Hello {{name}}", "Hi {{name}}", "Hey {{name}}, welcome")
        )
        self.promote(self.v1, "development", "staging")
        self.promote(self.v2, "development", "staging")
        self.promote(self.v3, "development")
        self.pending = self.request(self.v3, "staging")

    def __getitem__(self, role):
        return self.people[role]

    def _member(self, username, role):
        user = UserFactory(username=username)
        MembershipFactory(team=self.namespace.team, user=user, role=role)
        return user

    def request(self, version, environment, **kwargs):
        return services.promotion_request(
            actor=self["maintainer"],
            prompt=self.prompt,
            version=version,
            environment=self.env[environment],
            justification=f"v{version.number} to {environment}",
            **kwargs,
        )

    def promote(self, version, *environments):
        for environment in environments:
            created = self.request(version, environment)
            for reviewer in (self["reviewer"], self.r2)[: created.required_approvals]:
                services.promotion_approve(actor=reviewer, request=created)

    def running(self, environment):
        deployment = Deployment.objects.filter(
            prompt=self.prompt, environment__slug=environment
        ).first()
        return deployment.version.number if deployment else None

    def url(self, name, *args):
        return reverse(f"approvals:{name}", args=args)

    def prompt_url(self, name):
        return reverse(f"approvals:{name}", args=[self.namespace.slug, self.prompt.name])


@pytest.fixture
def world(environments):
    return World(environments)


def state() -> dict:
    """Everything the pages' writes could touch."""
    return {
        "requests": sorted(PromotionRequest.objects.values_list("pk", "state", "superseded_by")),
        "reviews": sorted(Review.objects.values_list("request", "reviewer__username", "decision")),
        "deployments": sorted(
            Deployment.objects.values_list("prompt__name", "environment__slug", "version__number")
        ),
        "audit_entries": AuditEntry.objects.count(),
    }


def _login_redirect(response, url: str) -> bool:
    return response.status_code == 302 and response["Location"] == f"{reverse('login')}?next={url}"


def _body(response) -> str:
    return response.content.decode()


@dataclass(frozen=True)
class Write:
    name: str
    allowed: frozenset[str]
    url: object
    data: dict


WRITES = [
    Write(
        "promote",
        frozenset({"maintainer", "author", "staff"}),
        lambda w: w.prompt_url("promote"),
        {"version": "3", "environment": "staging", "justification": "newer greeting"},
    ),
    Write(
        "approve",
        frozenset({"reviewer"}),
        lambda w: w.url("approve", w.pending.pk),
        {"comment": "fine"},
    ),
    Write(
        "reject",
        frozenset({"reviewer"}),
        lambda w: w.url("reject", w.pending.pk),
        {"comment": "not this week"},
    ),
    Write(
        "cancel",
        frozenset({"maintainer", "staff"}),
        lambda w: w.url("cancel", w.pending.pk),
        {"comment": ""},
    ),
    Write(
        "rollback",
        frozenset({"reviewer"}),
        lambda w: w.prompt_url("rollback"),
        {
            "environment": "staging",
            "version": "",
            "justification": "v2 misbehaves",
            "confirmed": "yes",
        },
    ),
]

PAGES = {
    "inbox": lambda w: w.url("inbox"),
    "request": lambda w: w.url("request", w.pending.pk),
    "promote": lambda w: w.prompt_url("promote"),
    "deployments": lambda w: w.prompt_url("deployments"),
    "audit": lambda w: reverse("audit:log"),
    "audit_verify": lambda w: reverse("audit:verify"),
}


# --- Anonymous visitors -----------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, world, page):
    url = PAGES[page](world)

    assert _login_redirect(client.get(url), url)


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_anonymous_writes_are_sent_to_sign_in_and_change_nothing(client, world, write):
    url = write.url(world)
    before = state()

    response = client.post(url, write.data)

    assert _login_redirect(response, url)
    assert state() == before


def test_the_navigation_badge_answers_anonymous_visitors_with_nothing(client, world):
    response = client.get(world.url("inbox_count"))

    assert response.status_code == 204
    assert response.content == b""


# --- The write matrix -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_writes_are_allowed_to_exactly_their_roles(client, world, write, role):
    client.force_login(world[role])
    before = state()

    response = client.post(write.url(world), write.data)

    if role in write.allowed:
        assert response.status_code == 302, _body(response)[:2000]
        assert state() != before
    else:
        assert response.status_code == 403
        assert state() == before


@pytest.mark.parametrize("role", ROLES)
def test_pages_by_role(client, world, role):
    client.force_login(world[role])

    statuses = {page: client.get(url_of(world)).status_code for page, url_of in PAGES.items()}

    may_promote = role in {"maintainer", "author", "staff"}
    may_audit = role in {"staff", "auditor"}
    assert statuses == {
        "inbox": 200,
        "request": 200,
        "promote": 200 if may_promote else 403,
        "deployments": 200,
        "audit": 200 if may_audit else 403,
        "audit_verify": 302 if may_audit else 403,
    }


@pytest.mark.parametrize("role", ROLES)
def test_request_page_offers_exactly_the_decisions_the_user_may_take(client, world, role):
    client.force_login(world[role])

    body = _body(client.get(world.url("request", world.pending.pk)))

    assert (">Approve</button>" in body) is (role == "reviewer")
    assert (">Reject</button>" in body) is (role == "reviewer")
    assert (">Cancel request</button>" in body) is (role in {"maintainer", "staff"})
    assert (FOUR_EYES_REQUESTER in body) is (role == "maintainer")
    assert ("You authored version 3" in body) is (role == "author")


@pytest.mark.parametrize("role", ROLES)
def test_prompt_and_history_pages_link_promotion_and_rollback_by_role(client, world, role):
    client.force_login(world[role])

    prompt_page = _body(client.get(reverse("prompts:detail", args=["alpha", "greet"])))
    version_page = _body(client.get(reverse("prompts:version", args=["alpha", "greet", 2])))
    history = _body(client.get(world.prompt_url("deployments")))

    may_promote = role in {"maintainer", "author", "staff"}
    assert world.prompt_url("deployments") in prompt_page
    assert (world.prompt_url("promote") in prompt_page) is may_promote
    assert (f"{world.prompt_url('promote')}?version=2" in prompt_page) is may_promote
    assert (f"{world.prompt_url('promote')}?version=2" in version_page) is may_promote
    assert ("Roll back Staging" in history) is (role == "reviewer")
    assert "Roll back Production" not in history


# --- Private namespaces -----------------------------------------------------------------------


@pytest.fixture
def secret(world):
    """A private namespace of another team, with a pending staging request."""
    namespace = NamespaceFactory(slug="secret-ns", visibility="private")
    insider = UserFactory(username="ingrid")
    MembershipFactory(team=namespace.team, user=insider, role="maintainer")
    prompt = PromptFactory(namespace=namespace, name="classified")
    version = version_create(prompt=prompt, author=insider, template="Psst")
    services.promotion_request(
        actor=insider,
        prompt=prompt,
        version=version,
        environment=world.env["development"],
        justification="dev",
    )
    deployment = Deployment.objects.get(prompt=prompt)
    pending = services.promotion_request(
        actor=insider,
        prompt=prompt,
        version=version,
        environment=world.env["staging"],
        justification="staging",
    )
    return SimpleNamespace(prompt=prompt, pending=pending, deployment=deployment)


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("get", lambda s: reverse("approvals:request", args=[s.pending.pk]), {}),
        ("post", lambda s: reverse("approvals:approve", args=[s.pending.pk]), {}),
        ("post", lambda s: reverse("approvals:reject", args=[s.pending.pk]), {"comment": "x"}),
        ("post", lambda s: reverse("approvals:cancel", args=[s.pending.pk]), {}),
        ("get", lambda s: reverse("approvals:promote", args=["secret-ns", "classified"]), {}),
        (
            "post",
            lambda s: reverse("approvals:promote", args=["secret-ns", "classified"]),
            {"version": "1", "environment": "staging", "justification": "x"},
        ),
        ("get", lambda s: reverse("approvals:deployments", args=["secret-ns", "classified"]), {}),
        (
            "post",
            lambda s: reverse("approvals:rollback", args=["secret-ns", "classified"]),
            {"environment": "development", "justification": "x"},
        ),
    ],
    ids=[
        "request",
        "approve",
        "reject",
        "cancel",
        "promote-form",
        "promote",
        "history",
        "rollback",
    ],
)
@pytest.mark.parametrize("role", ["outsider", "reviewer", "auditor"])
def test_other_teams_private_namespace_is_404_everywhere(
    client, world, secret, method, url, data, role
):
    client.force_login(world[role])
    before = state()

    response = getattr(client, method)(url(secret), data)

    assert response.status_code == 404
    assert state() == before


def test_private_requests_are_not_listed_to_outsiders(client, world, secret):
    client.force_login(world["outsider"])

    body = _body(client.get(world.url("inbox")))

    assert "classified" not in body


# --- The workflow through the forms -----------------------------------------------------------


def _promote(client, world, version, environment, **extra):
    data = {"version": version, "environment": environment, "justification": "ship it", **extra}
    return client.post(world.prompt_url("promote"), data)


def _request_from(response) -> PromotionRequest:
    assert response.status_code == 302, _body(response)[:2000]
    return PromotionRequest.objects.get(pk=response["Location"].rstrip("/").rsplit("/", 1)[1])


def test_request_staging_then_approve_applies_it(client, world):
    client.force_login(world["maintainer"])
    created = _request_from(_promote(client, world, 3, "staging"))
    world.pending.refresh_from_db()
    assert (created.state, world.pending.state) == ("pending", "superseded")
    assert world.pending.superseded_by == created
    page = _body(client.get(world.url("request", created.pk)))
    assert "Compared with v2, which Staging runs now" in page
    assert "<ins>Hey</ins> {{name}}<ins>, welcome</ins>" in page

    client.force_login(world["reviewer"])
    inbox = _body(client.get(world.url("inbox")))
    assert f"Review #{created.pk}" in inbox
    assert f"Review #{world.pending.pk}" not in inbox
    response = client.post(world.url("approve", created.pk), {"comment": "lgtm"}, follow=True)

    body = _body(response)
    assert "Approved and applied: Staging now runs v3." in body
    assert "lgtm" in body
    created.refresh_from_db()
    assert created.state == "applied"
    assert world.running("staging") == 3
    actions = AuditEntry.objects.filter(object_id=str(created.pk)).values_list("action", "actor")
    assert list(actions) == [("promotion.requested", "mia"), ("promotion.approved", "r1")]


def test_development_applies_at_once(client, world):
    v4 = version_create(prompt=world.prompt, author=world["author"], template="Yo")
    client.force_login(world["maintainer"])

    created = _request_from(_promote(client, world, v4.number, "development"))

    assert created.state == "applied"
    assert world.running("development") == 4
    page = _body(client.get(world.url("request", created.pk)))
    assert "Applied" in page
    assert "Compared with v3, which ran there before this request" in page


def test_production_needs_two_approvals(client, world):
    client.force_login(world["maintainer"])
    created = _request_from(_promote(client, world, 2, "production"))
    assert (created.state, created.required_approvals) == ("pending", 2)
    assert "Nothing runs in Production now." in _body(client.get(world.url("request", created.pk)))

    client.force_login(world["reviewer"])
    first = _body(client.post(world.url("approve", created.pk), {"comment": ""}, follow=True))
    assert "Approved: 1 of 2 approvals so far." in first
    assert "You approved this request; it needs 1 more approval from someone else." in first
    assert ">Approve</button>" not in first
    assert ">Reject</button>" in first
    assert f"Review #{created.pk}" not in _body(client.get(world.url("inbox")))
    created.refresh_from_db()
    assert created.state == "pending"
    assert world.running("production") is None

    client.force_login(world.r2)
    assert f"Review #{created.pk}" in _body(client.get(world.url("inbox")))
    client.post(world.url("approve", created.pk), {"comment": "second pair of eyes"})

    created.refresh_from_db()
    assert created.state == "applied"
    assert world.running("production") == 2
    applied = AuditEntry.objects.get(action="promotion.applied", object_id="alpha/greet@production")
    assert applied.actor == "r2"
    assert applied.justification == "ship it"


def test_four_eyes_refusal_is_explained_to_the_requester_and_the_author(client, world):
    promotion_right_grant(
        actor=world["staff"],
        namespace=world.namespace,
        environment=world.env["staging"],
        user=world["maintainer"],
    )
    url = world.url("request", world.pending.pk)
    before = state()

    client.force_login(world["maintainer"])
    page = _body(client.get(url))
    refused = client.post(world.url("approve", world.pending.pk), {"comment": "me, myself"})

    assert FOUR_EYES_REQUESTER in page
    assert ">Approve</button>" not in page
    assert refused.status_code == 403
    assert FOUR_EYES_REQUESTER in _body(refused)
    client.force_login(world["author"])
    by_author = client.post(world.url("approve", world.pending.pk), {"comment": ""})
    assert by_author.status_code == 403
    assert "You authored version 3; someone else must approve it" in _body(by_author)
    assert state() == before


def test_reject_needs_a_comment(client, world):
    client.force_login(world["reviewer"])
    before = state()

    empty = client.post(world.url("reject", world.pending.pk), {"comment": "  "})

    assert empty.status_code == 422
    assert "A reason for the rejection is required." in _body(empty)
    assert state() == before
    done = client.post(
        world.url("reject", world.pending.pk), {"comment": "wrong tone"}, follow=True
    )
    world.pending.refresh_from_db()
    assert world.pending.state == "rejected"
    assert "wrong tone" in _body(done)
    entry = AuditEntry.objects.get(action="promotion.rejected")
    assert (entry.actor, entry.justification) == ("r1", "wrong tone")


def test_closed_requests_show_the_conflict(client, world):
    services.promotion_cancel(actor=world["maintainer"], request=world.pending)
    client.force_login(world["reviewer"])
    before = state()

    page = _body(client.get(world.url("request", world.pending.pk)))
    refused = client.post(world.url("approve", world.pending.pk), {"comment": ""})

    assert "Cancelled" in page
    assert ">Approve</button>" not in page
    assert refused.status_code == 409
    assert "it can no longer be decided" in _body(refused)
    assert state() == before


def test_decisions_through_htmx_swap_the_decision_panel(client, world):
    client.force_login(world["reviewer"])

    response = client.post(
        world.url("approve", world.pending.pk), {"comment": "ok"}, HTTP_HX_REQUEST="true"
    )
    again = client.post(
        world.url("reject", world.pending.pk), {"comment": "too late"}, HTTP_HX_REQUEST="true"
    )

    body = _body(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="decision"')
    assert "Approved and applied: Staging now runs v3." in body
    assert 'class="state state-applied"' in body
    assert again.status_code == 200
    assert "it can no longer be decided" in _body(again)
    assert world.running("staging") == 3


def test_four_eyes_refusal_through_htmx_is_shown_in_the_panel(client, world):
    client.force_login(world["maintainer"])

    response = client.post(
        world.url("approve", world.pending.pk), {"comment": ""}, HTTP_HX_REQUEST="true"
    )

    body = _body(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="decision"')
    assert body.count(FOUR_EYES_REQUESTER) == 1
    assert 'role="alert"' in body


def test_cancel_by_the_requester(client, world):
    client.force_login(world["maintainer"])

    response = client.post(world.url("cancel", world.pending.pk), {"comment": "wrong one"})

    assert response.status_code == 302
    world.pending.refresh_from_db()
    assert world.pending.state == "cancelled"
    assert AuditEntry.objects.filter(action="promotion.cancelled", actor="mia").exists()


# --- The request form -------------------------------------------------------------------------


def test_request_form_defaults_to_the_latest_version_and_hides_the_override(client, world):
    client.force_login(world["maintainer"])

    response = client.get(world.prompt_url("promote"))

    form = response.context["form"]
    assert form["version"].value() == 3
    assert form["environment"].value() == "staging"
    assert "override" not in form.fields
    assert "Override the order of environments" not in _body(response)
    assert f"#{world.pending.pk}" in _body(response)
    linked = client.get(world.prompt_url("promote"), {"version": 1})
    assert linked.context["form"]["version"].value() == 1
    assert linked.context["form"]["environment"].value() == "development"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": "3", "environment": "production"}, "must run in staging before production"),
        ({"version": "2", "environment": "staging"}, "staging already runs version 2"),
        ({"version": "3", "environment": "staging", "justification": ""}, "required"),
        ({"version": "9", "environment": "staging"}, "Select a valid choice"),
        ({"version": "x\x00", "environment": "staging"}, "Select a valid choice"),
        ({"version": "3", "environment": "nowhere"}, "Select a valid choice"),
        ({"version": "3", "environment": "bad\x00slug"}, "Select a valid choice"),
    ],
    ids=["order", "already", "justification", "version", "nul-version", "env", "nul-env"],
)
def test_request_form_errors(client, world, data, message):
    client.force_login(world["maintainer"])
    before = state()

    response = client.post(world.prompt_url("promote"), {"justification": "ship it", **data})

    assert response.status_code in (409, 422)
    assert message in _body(response)
    assert state() == before


def test_staff_may_override_the_order_of_environments(client, world):
    client.force_login(world["staff"])
    assert "Override the order of environments" in _body(client.get(world.prompt_url("promote")))

    created = _request_from(_promote(client, world, 3, "production", override="on"))

    assert (created.state, created.override) == ("pending", True)
    assert "Staff skipped the order of environments" in _body(
        client.get(world.url("request", created.pk))
    )
    assert AuditEntry.objects.filter(action="promotion.override", actor="boss").exists()


def test_an_override_posted_by_a_maintainer_is_ignored(client, world):
    client.force_login(world["maintainer"])
    before = state()

    response = _promote(client, world, 3, "production", override="on")

    assert response.status_code == 409
    assert state() == before


def test_a_prompt_without_versions_cannot_be_promoted(client, world):
    PromptFactory(namespace=world.namespace, name="empty")
    client.force_login(world["maintainer"])

    response = client.get(reverse("approvals:promote", args=["alpha", "empty"]))

    assert response.status_code == 200
    assert "has no versions yet" in _body(response)


# --- Deployment history and rollback ----------------------------------------------------------


def test_history_lists_every_change_newest_first(client, world):
    client.force_login(world["viewer"])

    response = client.get(world.prompt_url("deployments"))

    staging = next(e for e in response.context["environments"] if e.environment.slug == "staging")
    assert [change.version.number for change in staging.changes] == [2, 1]
    assert [change.deployed_by.username for change in staging.changes] == ["r1", "r1"]
    assert "Roll back" not in _body(response)


def test_rollback_from_the_history_page(client, world):
    client.force_login(world["reviewer"])
    page = client.get(world.prompt_url("deployments"))
    form = next(e for e in page.context["environments"] if e.environment.slug == "staging")
    assert form.rollback_form.fields["version"].choices == [(1, "v1 (the previous one)")]
    entries = AuditEntry.objects.count()
    data = {"environment": "staging", "version": "1", "justification": "v2 is rude"}

    confirm = client.post(world.prompt_url("rollback"), data)

    assert confirm.status_code == 200
    assert "approvals/rollback_confirm.html" in [t.name for t in confirm.templates]
    assert "Roll back Staging?" in _body(confirm)
    assert "moves Staging forward" not in _body(confirm)
    assert world.running("staging") == 2
    assert AuditEntry.objects.count() == entries
    response = client.post(world.prompt_url("rollback"), data | {"confirmed": "yes"}, follow=True)

    body = _body(response)
    assert response.redirect_chain[-1][0].endswith("#env-staging")
    assert "Rolled back Staging: it now runs v1." in body
    assert world.running("staging") == 1
    assert AuditEntry.objects.count() == entries + 1
    entry = AuditEntry.objects.latest("seq")
    assert (entry.action, entry.actor, entry.justification) == (
        "deployment.rolled_back",
        "r1",
        "v2 is rude",
    )
    assert (entry.before, entry.after["version"]) == ({"version": 2}, 1)
    staging = next(e for e in response.context["environments"] if e.environment.slug == "staging")
    assert [change.version.number for change in staging.changes] == [1, 2, 1]


def test_history_explains_each_change_on_the_page(client, world):
    services.rollback(
        actor=world["reviewer"],
        prompt=world.prompt,
        environment=world.env["staging"],
        justification="v2 is rude",
    )
    applied = PromotionRequest.objects.get(environment__slug="staging", version=world.v2)
    Deployment.history.filter(environment__slug="staging").update(
        history_user=None, deployed_by=None
    )
    client.force_login(world["viewer"])

    response = client.get(world.prompt_url("deployments"))

    staging = next(e for e in response.context["environments"] if e.environment.slug == "staging")
    explained = [
        (c.kind, c.from_number, c.version.number, c.by, c.justification, c.request_id)
        for c in staging.changes
    ]
    first = PromotionRequest.objects.get(environment__slug="staging", version=world.v1)
    assert explained == [
        ("rollback", 2, 1, "r1", "v2 is rude", None),
        ("promotion", 1, 2, "r1", "v2 to staging", applied.pk),
        ("promotion", None, 1, "r1", "v1 to staging", first.pk),
    ]
    body = _body(response)
    assert f'href="{world.url("request", applied.pk)}"' in body
    assert "v2 is rude" in body
    assert "v2 to staging" in body


def test_rollback_to_a_version_rolled_back_from_warns_that_it_moves_forward(client, world):
    services.rollback(
        actor=world["reviewer"],
        prompt=world.prompt,
        environment=world.env["staging"],
        justification="v2 is rude",
    )
    client.force_login(world["reviewer"])
    data = {"environment": "staging", "version": "2", "justification": "fixed upstream"}

    confirm = client.post(world.prompt_url("rollback"), data)

    body = _body(confirm)
    assert confirm.status_code == 200
    assert "This moves Staging forward, not back" in body
    assert "v2 was rolled back from" in body
    assert "v2 is rude" in body
    assert world.running("staging") == 1
    done = client.post(world.prompt_url("rollback"), data | {"confirmed": "yes"})
    assert done.status_code == 302
    assert world.running("staging") == 2


def test_rollback_confirm_page_has_no_inline_script(client, world):
    client.force_login(world["reviewer"])
    confirm = client.post(
        world.prompt_url("rollback"), {"environment": "staging", "justification": "x"}
    )
    body = _body(confirm)
    assert "<script>" not in body
    assert " onclick=" not in body
    assert 'name="confirmed" value="yes"' in body
    assert 'name="version" value="1"' in body


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"environment": "staging", "justification": ""}, 422, "This field is required."),
        (
            {"environment": "staging", "version": "3", "justification": "x"},
            422,
            "Select a valid choice",
        ),
        ({"environment": "nowhere", "justification": "x"}, 422, "Choose an environment"),
        ({"environment": "x\x00", "justification": "x"}, 422, "Choose an environment"),
        (
            {"environment": "production", "justification": "x"},
            409,
            "not deployed in production",
        ),
    ],
    ids=["justification", "never-ran", "unknown-env", "nul-env", "not-deployed"],
)
def test_rollback_errors_change_nothing(client, world, data, status, message):
    client.force_login(world["reviewer"])
    before = state()

    response = client.post(world.prompt_url("rollback"), data)

    assert response.status_code == status
    assert message in _body(response)
    assert state() == before


# --- Inbox ------------------------------------------------------------------------------------


def test_inbox_shows_what_waits_and_your_own_requests(client, world):
    client.force_login(world["reviewer"])
    reviewer_page = client.get(world.url("inbox"))
    client.force_login(world["maintainer"])
    requester_page = client.get(world.url("inbox"))

    [(row, approvals)] = reviewer_page.context["pending_rows"]
    assert (row, approvals) == (world.pending, 0)
    body = _body(reviewer_page)
    assert "alpha/greet" in body
    assert "0 of 1" in body
    assert "mia" in body
    assert requester_page.context["pending_rows"] == []
    own = [promotion.pk for promotion, _ in requester_page.context["own_rows"]]
    assert own[0] == world.pending.pk
    assert len(own) == PromotionRequest.objects.filter(requested_by=world["maintainer"]).count()


def test_navigation_badge_counts_the_inbox(client, world):
    client.force_login(world["reviewer"])
    reviewer = _body(client.get(world.url("inbox_count")))
    client.force_login(world["viewer"])
    viewer = client.get(world.url("inbox_count"))

    assert ">1<" in reviewer
    assert _body(viewer).strip() == '<span id="inbox-count"></span>'  # nothing to count
    assert 'hx-get="/reviews/count/"' in _body(client.get(reverse("home")))


def test_unknown_or_huge_request_ids_are_404(client, world):
    client.force_login(world["staff"])

    assert client.get(world.url("request", 999999)).status_code == 404
    assert client.get(f"/promotions/{10**30}/").status_code == 404
    assert client.post(f"/promotions/{10**30}/approve/").status_code == 404


# --- Audit log --------------------------------------------------------------------------------


def test_audit_page_lists_entries_newest_first_with_export_links(client, world):
    client.force_login(world["auditor"])

    response = client.get(reverse("audit:log"))

    rows = response.context["rows"]
    seqs = [entry.seq for entry, _, _ in rows]
    assert seqs == sorted(seqs, reverse=True)
    assert response.context["page"].paginator.count == AuditEntry.objects.count()
    body = _body(response)
    assert "promotion.requested" in body
    assert 'href="/api/v1/audit/export/?format=csv"' in body
    assert 'href="/api/v1/audit/export/?format=jsonl"' in body
    assert response.context["verification"] is None


def test_audit_filters_reach_the_table_and_the_export(client, world):
    client.force_login(world["auditor"])
    today = timezone.localdate()

    response = client.get(
        reverse("audit:log"),
        {
            "since": today.isoformat(),
            "until": today.isoformat(),
            "namespace": "alpha",
            "actor": "r1",
            "action": "promotion.",
        },
    )

    entries = [entry for entry, _, _ in response.context["rows"]]
    assert entries
    assert {(e.actor, e.namespace) for e in entries} == {("r1", "alpha")}
    assert all(e.action.startswith("promotion.") for e in entries)
    export = urlsplit(response.context["export"]["csv"])
    query = {name: values[0] for name, values in parse_qs(export.query).items()}
    tomorrow = today + dt.timedelta(days=1)
    assert query == {
        "format": "csv",
        "since": f"{today.isoformat()}T00:00:00+00:00",
        "until": f"{tomorrow.isoformat()}T00:00:00+00:00",
        "namespace": "alpha",
        "actor": "r1",
        "action": "promotion.",
    }
    exported = client.get(response.context["export"]["jsonl"])
    assert exported.status_code == 200
    lines = b"".join(exported.streaming_content).decode().splitlines()
    assert len(lines) == len(entries)


def test_audit_filters_of_the_future_find_nothing(client, world):
    client.force_login(world["staff"])

    response = client.get(reverse("audit:log"), {"since": "2999-01-01"})

    assert response.context["rows"] == []
    assert "No entries match." in _body(response)


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"since": "2024-02-30"},
        {"since": "2024-05-02", "until": "2024-05-01"},
        {"until": "9999-12-31"},
        {"actor": "r1\x00"},
        {"namespace": "x" * 500},
        {"page": "\x00"},
    ],
    ids=["word", "no-such-day", "reversed", "end-of-time", "nul", "long", "nul-page"],
)
def test_audit_filters_with_bad_input_do_not_fail(client, world, params):
    client.force_login(world["staff"])

    response = client.get(reverse("audit:log"), params)

    assert response.status_code in (200, 422)
    if response.status_code == 422:
        assert 'class="errorlist' in _body(response)


def test_chain_verification_only_runs_when_asked(client, world, monkeypatch):
    client.force_login(world["auditor"])
    calls = []
    real_status = audit_module.chain_status
    monkeypatch.setattr(
        audit_module, "chain_status", lambda **kw: calls.append(1) or real_status(**kw)
    )

    plain = client.get(reverse("audit:log"))
    asked = client.get(reverse("audit:log"), {"verify": "1"})
    partial = client.get(reverse("audit:verify"), HTTP_HX_REQUEST="true")

    assert "The chain is intact" not in _body(plain)
    assert "The chain is intact" in _body(asked)
    assert _body(partial).lstrip().startswith('<div id="verification"')
    assert f"{AuditEntry.objects.count()} entries verified" in _body(partial)
    assert len(calls) == 2


def test_a_broken_chain_is_reported(client, world, monkeypatch):
    client.force_login(world["staff"])
    broken = audit_module.Verification(
        ok=False, entries=4, first_bad_seq=5, reason="entry #5 does not match its seal"
    )
    monkeypatch.setattr(
        audit_module,
        "chain_status",
        lambda **kw: audit_module.ChainStatus(recent=broken, background=None),
    )

    body = _body(client.get(reverse("audit:verify"), HTTP_HX_REQUEST="true"))

    assert "The chain is broken at entry #5" in body


def test_audit_nav_link_only_for_auditors(client, world):
    for role, expected in (("auditor", True), ("staff", True), ("reviewer", False)):
        client.force_login(world[role])
        assert ('href="/audit/"' in _body(client.get(reverse("home")))) is expected


# --- Query counts -----------------------------------------------------------------------------


def _more_pending_requests(world, count):
    for index in range(count):
        prompt = PromptFactory(namespace=world.namespace)
        version = version_create(prompt=prompt, author=world["author"], template=f"v {index}")
        for environment in ("development", "staging"):
            services.promotion_request(
                actor=world["maintainer"],
                prompt=prompt,
                version=version,
                environment=world.env[environment],
                justification="more",
            )


def test_inbox_query_count_is_constant_in_requests(client, world, django_assert_max_num_queries):
    client.force_login(world["reviewer"])
    with django_assert_max_num_queries(20) as few:
        client.get(world.url("inbox"))
    _more_pending_requests(world, 15)
    for promotion in PromotionRequest.objects.filter(state="pending")[:5]:
        services.promotion_approve(actor=world.r2, request=promotion)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(world.url("inbox"))
    assert len(response.context["pending_rows"]) == 11


def test_requester_inbox_query_count_is_constant(client, world, django_assert_max_num_queries):
    client.force_login(world["maintainer"])
    with django_assert_max_num_queries(20) as few:
        client.get(world.url("inbox"))
    _more_pending_requests(world, 15)

    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(world.url("inbox"))


def test_audit_query_count_is_constant_in_entries(client, world, django_assert_max_num_queries):
    client.force_login(world["auditor"])
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("audit:log"))
    _more_pending_requests(world, 40)
    assert AuditEntry.objects.count() > 100

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("audit:log"))
    assert len(response.context["rows"]) == 50
    assert response.context["page"].has_next()


def test_history_query_count_is_constant_in_changes(client, world, django_assert_max_num_queries):
    client.force_login(world["reviewer"])
    url = world.prompt_url("deployments")
    with django_assert_max_num_queries(40) as few:
        client.get(url)
    for _ in range(5):
        services.rollback(
            actor=world["reviewer"],
            prompt=world.prompt,
            environment=world.env["staging"],
            justification="flip",
        )

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_history_api_query_count_is_constant_in_changes(world, django_assert_max_num_queries):
    api = personal_client(world["reviewer"])
    url = f"/api/v1/prompts/{world.prompt.full_name}/deployments/"
    with django_assert_max_num_queries(40) as few:
        assert api.get(url).status_code == 200
    for _ in range(8):
        services.rollback(
            actor=world["reviewer"],
            prompt=world.prompt,
            environment=world.env["staging"],
            justification="flip",
        )

    with django_assert_max_num_queries(len(few.captured_queries)):
        answer = api.get(url).json()
    assert answer["count"] == 13
    assert {row["kind"] for row in answer["results"]} == {"promotion", "rollback"}
