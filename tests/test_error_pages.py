"""The portal's 400, 403, 404, 500 and CSRF failure pages: inside the portal's layout, saying
why and what to do, with DEBUG off and on (the embedded mode shows no URL pattern list and no
traceback page), never with inline code; under /api/ every error stays a problem."""

import html

import pytest
from django.template import TemplateSyntaxError
from django.test import Client, RequestFactory

from portal import views
from tests.api.error_urls import SECRET
from tests.error_page_urls import DOMAIN_REASON, MISSING, REASON
from tests.factories import UserFactory
from tests.test_security_headers import inline_code

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.error_page_urls")]

PROBLEM = "application/problem+json"
NAVIGATION = '<nav aria-label="Main">'


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def person(db):
    return UserFactory(username="pat")


@pytest.fixture
def signed_in(person):
    client = Client(raise_request_exception=False)
    client.force_login(person)
    return client


def portal_page(response, status: int) -> str:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("text/html")
    text = html.unescape(response.content.decode())
    assert "Prompt portal</title>" in text  # base.html's layout
    assert 'href="/static/portal/portal.css"' in text
    assert inline_code(response) == []
    assert "URLconf" not in text
    assert "Traceback" not in text
    return text


def test_an_unknown_portal_path_is_the_portal_s_404_with_navigation(debug, signed_in):
    text = portal_page(signed_in.get("/no-such-page/"), 404)

    assert "Page not found" in text
    assert "/no-such-page/" in text
    assert NAVIGATION in text
    assert "Using the URLconf" not in text
    assert "prompts/" not in text.split("<main")[1]


def test_a_404_for_someone_signed_out_offers_to_sign_in(debug):
    text = portal_page(Client().get("/no-such-page/"), 404)

    assert 'href="/login/?next=%2Fno-such-page%2F"' in text


@pytest.mark.parametrize("path", ["/test/missing/", "/test/missing-in-the-domain/"])
def test_a_view_s_404_says_what_is_missing(debug, signed_in, path):
    text = portal_page(signed_in.get(path), 404)

    assert MISSING in text
    assert NAVIGATION in text
    assert "Raised by" not in text


def test_a_missing_trailing_slash_still_redirects_in_debug(debug, signed_in):
    response = signed_in.get("/login")

    assert response.status_code == 301
    assert response["Location"] == "/login/"


def test_a_403_says_why_and_what_to_do(debug, signed_in):
    text = portal_page(signed_in.get("/test/forbidden/"), 403)

    assert REASON in text
    assert NAVIGATION in text
    assert "Signed in as" in text
    assert "pat" in text
    assert "ask one of the team's owners" in text
    assert "Sign in as someone else" in text
    assert 'name="next" value="/login/?next=%2Ftest%2Fforbidden%2F"' in text


def test_a_real_refusal_shows_the_service_s_reason(debug, signed_in):
    text = portal_page(signed_in.get("/people/"), 403)

    assert "Only staff manage people's access." in text


def test_a_domain_refusal_escaping_a_view_is_a_403_with_its_reason(debug, signed_in):
    text = portal_page(signed_in.get("/test/refused/"), 403)

    assert DOMAIN_REASON in text


def test_a_403_without_a_reason_says_so_plainly(debug, signed_in):
    text = portal_page(signed_in.get("/test/forbidden-silently/"), 403)

    assert "The portal refused this request for your account." in text


def test_a_crash_is_the_portal_s_500_page_without_the_exception(debug, signed_in):
    response = signed_in.get("/test/crash/", headers={"X-Request-ID": "req-crash-1"})
    text = portal_page(response, 500)

    assert "Something went wrong on our side" in text
    assert "req-crash-1" in text
    assert response["X-Request-ID"] == "req-crash-1"
    assert SECRET not in text
    assert "RuntimeError" not in text
    assert ("the traceback is in the server's console log" in text) is debug


def test_a_crash_is_logged_with_its_traceback(debug, signed_in, caplog):
    signed_in.get("/test/crash/")

    records = [r for r in caplog.records if r.name == "django.request" and r.levelname == "ERROR"]
    assert len(records) == 1
    assert records[0].exc_info
    assert records[0].exc_info[0] is RuntimeError


def test_the_test_client_still_sees_the_crash_in_debug(settings, person):
    settings.DEBUG = True
    client = Client()
    client.force_login(person)

    with pytest.raises(RuntimeError, match=SECRET):
        client.get("/test/crash/")


def test_the_500_page_needs_no_request_context_and_no_database(django_assert_num_queries):
    request = RequestFactory().get("/somewhere/")

    with django_assert_num_queries(0):
        response = views.server_error(request)

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    assert NAVIGATION not in response.content.decode()  # no user: no personal navigation
    assert 'href="/"' in response.content.decode()


def test_a_500_page_that_fails_to_render_falls_back_to_plain_html(monkeypatch, debug, signed_in):
    def broken(name):
        raise TemplateSyntaxError("broken on purpose")

    monkeypatch.setattr(views.loader, "get_template", broken)

    response = signed_in.get("/test/crash/")

    assert response.status_code == 500
    assert response.content.decode() == views.PLAIN_SERVER_ERROR
    assert inline_code(response) == []


def test_a_suspicious_request_is_the_portal_s_400_without_its_reason(debug, signed_in):
    text = portal_page(signed_in.get("/test/suspicious/"), 400)

    assert "This request could not be handled" in text
    assert SECRET not in text
    assert NAVIGATION in text


def test_a_csrf_failure_in_the_portal_is_the_portal_s_page(debug, person):
    client = Client(enforce_csrf_checks=True)
    client.force_login(person)
    client.get("/")  # a portal page sets the CSRF cookie

    text = portal_page(client.post("/logout/"), 403)

    assert "This form could not be accepted" in text
    assert "CSRF token missing." in text
    assert "reload the page" in text
    assert NAVIGATION in text
    assert "Allow cookies" not in text


def test_a_csrf_failure_without_cookies_says_to_allow_them(debug):
    text = portal_page(Client(enforce_csrf_checks=True).post("/login/", {"username": "x"}), 403)

    assert "Allow cookies" in text


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/api/else/", "/api/v1/teams/x/y/"])
def test_api_paths_still_answer_404_problems(debug, signed_in, path):
    response = signed_in.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "not_found"


def test_api_csrf_failures_and_refusals_stay_problems_in_debug(settings, person):
    settings.DEBUG = True
    client = Client(enforce_csrf_checks=True)
    client.force_login(person)
    client.get("/")

    csrf = client.post("/api/v1/test/plain/")
    refused = client.get("/api/v1/users/")

    assert csrf.status_code == 403
    assert csrf["Content-Type"] == PROBLEM
    assert csrf.json()["code"] == "csrf_failed"
    assert refused.status_code == 403
    assert refused["Content-Type"] == PROBLEM


def test_an_api_crash_stays_a_problem_with_debug_off(settings):
    assert not settings.DEBUG
    response = Client(raise_request_exception=False).get("/api/v1/test/crash/")

    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM


@pytest.mark.urls("portal.urls")
def test_a_post_only_address_opened_in_the_browser_is_the_portal_s_405(debug, signed_in):
    response = signed_in.get("/people/lockouts/lift/")

    text = portal_page(response, 405)
    assert response["Allow"] == "POST"
    assert "This address is not a page" in text
    assert "only takes a form submission (POST)" in text
    assert NAVIGATION in text


@pytest.mark.urls("portal.urls")
def test_an_api_405_stays_a_problem(debug, signed_in):
    response = signed_in.delete("/api/v1/environments/")

    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM
