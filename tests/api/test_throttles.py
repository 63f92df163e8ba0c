"""Throttles that never lock out valid callers, and one true client address (issue 10, item 4):
failed token authentications count per address and only failures count; the address comes
from the hops outside the configured proxies, never from a client-written header; renders are
rate-limited per caller; portal sign-in locks out a username and address pair (django-axes)."""

import os
import subprocess
import sys

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from rest_framework.test import APIClient

from portal.addresses import client_ip, trusted_networks
from portal.api.throttles import LoginThrottle, RenderThrottle
from portal.audit.models import AuditEntry
from teams.authentication import FAILURE_LIMIT
from teams.tokens import personal_token_create, token_cache_key
from tests.api.conftest import bearer, problem
from tests.api.test_promotions import Gov
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
TEAMS = "/api/v1/teams/"


@pytest.fixture
def gov(db):
    return Gov()


def garbage(count: int, **headers) -> list[int]:
    return [bearer("abcdefgh.garbage").get(TEAMS, **headers).status_code for _ in range(count)]


class TestFailedTokens:
    def test_past_the_limit_guesses_get_429_but_a_brand_new_token_is_served(self):
        user = UserFactory()

        statuses = garbage(FAILURE_LIMIT + 1)
        _, secret = personal_token_create(actor=user, name="new")  # never looked up before
        response = bearer(secret).get(TEAMS)

        assert statuses[:FAILURE_LIMIT] == [401] * FAILURE_LIMIT
        assert statuses[-1] == 429
        assert response.status_code == 200

    def test_a_token_whose_cached_lookup_ran_out_is_served_from_a_throttled_address(self):
        _, secret = personal_token_create(actor=UserFactory(), name="ci")
        assert bearer(secret).get(TEAMS).status_code == 200
        garbage(FAILURE_LIMIT + 1)

        cache.delete(token_cache_key(secret))  # as after RESOLVE_CACHE_MAX_AGE
        response = bearer(secret).get(TEAMS)

        assert response.status_code == 200

    def test_a_ci_job_hammering_with_a_valid_token_is_never_throttled(self, gov):
        gov.promote_through(1, "development", "staging", "production")
        garbage(FAILURE_LIMIT + 5)  # a neighbour behind the same proxy sends garbage
        client = gov.clients["r1"]

        reads = [client.get(TEAMS).status_code for _ in range(200)]
        renders = [
            client.post(
                "/api/v1/resolve/alpha/greet/render/",
                {"variables": {"name": str(i)}},
                format="json",
            ).status_code
            for i in range(100)
        ]

        assert set(reads) == set(renders) == {200}


class TestClientAddress:
    def test_x_forwarded_for_is_ignored_without_trusted_proxies(self, settings):
        settings.TRUSTED_PROXIES = []
        settings.BEHIND_TLS_PROXY = True  # TLS termination alone does not make the header true

        statuses = [
            bearer("abcdefgh.garbage").get(TEAMS, HTTP_X_FORWARDED_FOR=f"6.6.6.{i}").status_code
            for i in range(FAILURE_LIMIT + 1)
        ]

        assert statuses[-1] == 429  # rotating the header did not dodge the count

    def test_behind_a_trusted_proxy_the_address_it_saw_counts_and_is_audited(self, settings, gov):
        settings.TRUSTED_PROXIES = ["127.0.0.1"]

        spoofed = [
            bearer("abcdefgh.garbage")
            .get(TEAMS, HTTP_X_FORWARDED_FOR=f"6.6.6.{i}, 203.0.113.9")
            .status_code
            for i in range(FAILURE_LIMIT + 1)
        ]
        neighbour = bearer("abcdefgh.garbage").get(TEAMS, HTTP_X_FORWARDED_FOR="198.51.100.4")
        request = gov.clients["mia"].post(
            "/api/v1/promotions/",
            {
                "prompt": "alpha/greet",
                "version": 2,
                "environment": "development",
                "justification": "via the proxy",
            },
            format="json",
            HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
        )

        assert spoofed[-1] == 429  # the left entries were the client's own: ignored
        assert neighbour.status_code == 401  # someone else behind the proxy is not blamed
        assert request.status_code == 201
        entry = AuditEntry.objects.filter(action="promotion.requested").latest("seq")
        assert entry.client_ip == "203.0.113.9"

    def test_a_forwarded_header_from_an_untrusted_peer_is_not_believed(self, settings, gov):
        settings.TRUSTED_PROXIES = ["10.0.0.2"]

        gov.clients["mia"].post(
            "/api/v1/promotions/",
            {
                "prompt": "alpha/greet",
                "version": 2,
                "environment": "development",
                "justification": "direct",
            },
            format="json",
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )

        entry = AuditEntry.objects.filter(action="promotion.requested").latest("seq")
        assert entry.client_ip == "127.0.0.1"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "peer", "client"),
    [
        # parallel load balancers, either one in front
        (["10.0.0.5", "10.0.0.6"], "203.0.113.9", "10.0.0.6", "203.0.113.9"),
        (["10.0.0.5", "10.0.0.6"], "6.6.6.6, 203.0.113.9", "10.0.0.5", "203.0.113.9"),
        # two hops inside one network, with the client's own entries in front
        (["10.0.0.0/16"], "6.6.6.6, 10.0.0.1, 203.0.113.9, 10.0.9.9", "10.0.0.2", "203.0.113.9"),
        (["10.0.0.0/16"], "203.0.113.9:4444", "10.0.0.2", "203.0.113.9"),
        (["10.0.0.0/16"], "[2001:db8::1]:443", "10.0.0.2", "2001:db8::1"),
        (["10.0.0.0/16"], "garbage", "10.0.0.2", "10.0.0.2"),
        (["10.0.0.0/16"], "6.6.6.6, garbage, 10.0.9.9", "10.0.0.2", "10.0.9.9"),
        (["10.0.0.0/16"], "fe80::1%eth0", "10.0.0.2", "10.0.0.2"),
        # IPv4-mapped proxies and peers are compared as IPv4
        (["::ffff:10.0.0.0/112"], "203.0.113.9", "::ffff:10.0.0.2", "203.0.113.9"),
        ([], "", "::ffff:198.51.100.1", "198.51.100.1"),
        # a peer that is no proxy: its header is the client's own
        (["10.0.0.0/16"], "6.6.6.6", "198.51.100.1", "198.51.100.1"),
    ],
)
def test_the_client_is_the_first_hop_outside_the_trusted_proxies(
    settings, proxies, forwarded, peer, client
):
    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=peer)

    assert client_ip(request) == client


def test_a_bad_trusted_proxy_entry_stops_start_up():
    with pytest.raises(ImproperlyConfigured, match="garbage"):
        trusted_networks(("10.0.0.0/8", "garbage"))

    started = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": "",
            "TRUSTED_PROXIES": "10.0.0.0/8,garbage",
        },
        capture_output=True,
        text=True,
        check=False,
    )

    assert started.returncode != 0
    assert "TRUSTED_PROXIES: 'garbage'" in started.stderr


def test_ipv6_callers_are_counted_by_their_slash_64():
    statuses = [
        bearer("abcdefgh.garbage").get(TEAMS, REMOTE_ADDR=f"2001:db8:1:2::{i:x}").status_code
        for i in range(FAILURE_LIMIT + 1)
    ]
    elsewhere = bearer("abcdefgh.garbage").get(TEAMS, REMOTE_ADDR="2001:db8:1:3::1")

    assert statuses[-1] == 429  # rotating within the /64 did not dodge the count
    assert elsewhere.status_code == 401


class TestRenderRate:
    @pytest.fixture
    def three_a_minute(self, monkeypatch):
        monkeypatch.setattr(RenderThrottle, "THROTTLE_RATES", {"render": "3/min"})

    def test_renders_past_the_rate_get_429_with_retry_after_per_caller(self, gov, three_a_minute):
        gov.promote_through(1, "development", "staging", "production")
        url = "/api/v1/resolve/alpha/greet/render/"
        body = {"variables": {"name": "Ada"}}

        mine = [gov.clients["r1"].post(url, body, format="json") for _ in range(4)]
        theirs = gov.clients["r2"].post(url, body, format="json")

        assert [r.status_code for r in mine] == [200, 200, 200, 429]
        assert problem(mine[-1])["code"] == "throttled"
        assert int(mine[-1]["Retry-After"]) > 0
        assert theirs.status_code == 200

    def test_the_portal_preview_counts_in_the_same_rate(self, gov, client, three_a_minute):
        gov.promote_through(1, "development", "staging", "production")
        client.force_login(gov.users["r1"])
        url = "/prompts/alpha/greet/preview/"

        statuses = [
            client.post(url, {"environment": "production", "var_name": "Ada"}).status_code
            for _ in range(4)
        ]

        assert statuses == [200, 200, 200, 429]


class TestLoginLockout:
    def sign_in(self, password: str, address: str = "127.0.0.1"):
        return APIClient().post(
            "/login/", {"username": "ada", "password": password}, REMOTE_ADDR=address
        )

    def test_wrong_passwords_lock_the_pair_out_and_the_lockout_is_audited(self, settings):
        UserFactory(username="ada", password="correct horse battery")
        limit = settings.AXES_FAILURE_LIMIT

        wrong = [self.sign_in("guess").status_code for _ in range(limit)]
        right_after = self.sign_in("correct horse battery")
        elsewhere = self.sign_in("correct horse battery", address="198.51.100.7")

        assert wrong[:-1] == [200] * (limit - 1)  # the form again, with its error
        assert wrong[-1] == right_after.status_code == 429
        assert b"Too many failed sign-ins" in right_after.content
        assert elsewhere.status_code == 302  # another address is not locked out
        (entry,) = AuditEntry.objects.filter(action="login.locked_out")  # once, not per try
        assert (entry.object_id, entry.after) == ("ada", {"address": "127.0.0.1"})

    def test_staff_see_the_lockout_and_lift_it(self, settings, client):
        UserFactory(username="ada", password="correct horse battery")
        for _ in range(settings.AXES_FAILURE_LIMIT):
            self.sign_in("guess")
        staff = UserFactory(username="boss", is_staff=True)
        client.force_login(staff)

        page = client.get("/people/")
        lifted = client.post(
            "/people/lockouts/lift/", {"username": "ada", "ip_address": "127.0.0.1"}
        )

        assert b'data-lockout="ada"' in page.content
        assert lifted.status_code == 302
        assert self.sign_in("correct horse battery").status_code == 302
        assert AuditEntry.objects.filter(
            action="login.lockout_lifted", object_id="ada", actor="boss"
        ).exists()

    def test_people_who_are_not_staff_cannot_lift_a_lockout(self, settings, client):
        UserFactory(username="ada", password="correct horse battery")
        for _ in range(settings.AXES_FAILURE_LIMIT):
            self.sign_in("guess")
        client.force_login(UserFactory(username="mallory"))

        response = client.post(
            "/people/lockouts/lift/", {"username": "ada", "ip_address": "127.0.0.1"}
        )

        assert response.status_code == 403
        assert self.sign_in("correct horse battery").status_code == 429

    def test_refused_tries_while_locked_out_do_not_grow_the_audit_log(self, settings):
        UserFactory(username="ada", password="correct horse battery")
        for _ in range(settings.AXES_FAILURE_LIMIT):
            self.sign_in("guess")
        before = AuditEntry.objects.count()

        refused = [self.sign_in("guess").status_code for _ in range(10)]

        assert refused == [429] * 10
        assert AuditEntry.objects.count() == before

    def test_the_admin_sign_in_counts_in_the_same_rate(self, monkeypatch):
        monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {"login": "3/min"})
        client = APIClient()

        portal = [client.post("/login/", {"username": f"u{i}", "password": "x"}) for i in range(2)]
        admin_ = [
            client.post("/admin/login/", {"username": f"a{i}", "password": "x"}) for i in range(2)
        ]

        assert [r.status_code for r in portal + admin_] == [200, 200, 200, 429]

    def test_one_address_trying_many_usernames_is_slowed_down(self, monkeypatch):
        monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {"login": "5/min"})

        answers = [
            APIClient().post("/login/", {"username": f"user{i}", "password": "x"}) for i in range(6)
        ]

        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert int(answers[-1]["Retry-After"]) > 0
        assert AccessAttempt.objects.count() == 5  # the sixth was not even recorded

    @pytest.mark.parametrize(
        "form",
        [
            {"username": "ada", "ip_address": "not-an-ip"},
            {"username": "ada", "ip_address": ""},
            {"username": "", "ip_address": ""},
            {"username": "", "ip_address": "127.0.0.1"},
        ],
    )
    def test_lifting_needs_the_exact_pair(self, settings, client, form):
        UserFactory(username="ada", password="correct horse battery")
        for _ in range(settings.AXES_FAILURE_LIMIT):
            self.sign_in("guess")
        client.force_login(UserFactory(username="boss", is_staff=True))

        response = client.post("/people/lockouts/lift/", form)

        assert response.status_code == 302
        assert AccessAttempt.objects.count() == 1
        assert not AuditEntry.objects.filter(action="login.lockout_lifted").exists()
