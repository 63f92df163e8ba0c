"""Every API error is an RFC 9457 problem (`application/problem+json`, a code of `ErrorCode`),
with DEBUG off: unknown routes with any method and any caller, 405, 406, 413, 415, CSRF
failures, suspicious requests, 429 and crashes. The portal answers its own HTML pages
(tests/test_error_pages.py).

The clients enforce CSRF checks, as browsers and gunicorn do (Django's test client skips them
unless told)."""

import json

import pytest
from django.test import Client

from portal.errors import ErrorCode
from teams.tokens import personal_token_create
from tests.api.error_urls import SECRET
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
error_urls = pytest.mark.urls("tests.api.error_urls")


def answered_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == PROBLEM, response.content[:300]
    if not response.content:  # HEAD
        return {}
    body = response.json()
    assert body["status"] == status
    assert body["type"] == f"urn:prompt-portal:problem:{body['code']}"
    assert body["code"] in set(ErrorCode)
    return body


def html_page(response, status: int) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")


@pytest.fixture
def person(db):
    return UserFactory(username="pat")


@pytest.fixture
def signed_in(person):
    client = Client(enforce_csrf_checks=True)
    client.force_login(person)
    return client


@pytest.fixture
def with_token(person):
    _, secret = personal_token_create(actor=person, name="problems")
    return Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def callers(signed_in, with_token):
    return {
        "anonymous": Client(enforce_csrf_checks=True),
        "session": signed_in,
        "token": with_token,
    }


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/api/v1/teams/x/y/z/", "/api/else/"])
def test_unknown_api_routes_answer_a_404_problem_for_every_method_and_caller(callers, method, path):
    for caller, client in callers.items():
        response = client.generic(method, path, b'{"name": "x"}', content_type="application/json")

        body = answered_problem(response, 404)
        assert method == "HEAD" or body["code"] == "not_found", caller


def test_a_missing_trailing_slash_is_named_in_the_404(signed_in):
    typo = signed_in.post("/api/v1/tokens", {"name": "x"}, content_type="application/json")
    nothing = signed_in.post("/api/v1/no-such-thing", {}, content_type="application/json")

    assert "Did you mean /api/v1/tokens/ " in answered_problem(typo, 404)["detail"]
    assert "Did you mean" not in answered_problem(nothing, 404)["detail"]


def test_a_session_caller_without_the_csrf_token_gets_a_csrf_problem(signed_in):
    refused = signed_in.post("/api/v1/tokens/", {"name": "x"}, content_type="application/json")
    signed_in.get("/")  # a portal page sets the CSRF cookie
    accepted = signed_in.post(
        "/api/v1/tokens/",
        {"name": "x"},
        content_type="application/json",
        headers={"X-CSRFToken": signed_in.cookies["csrftoken"].value},
    )

    body = answered_problem(refused, 403)
    assert body["code"] == "csrf_failed"
    assert "X-CSRFToken" in body["detail"]
    assert accepted.status_code == 201


@error_urls
def test_outside_drf_a_csrf_failure_is_a_problem_under_api_and_a_page_in_the_portal(signed_in):
    api = signed_in.post("/api/v1/test/plain/")
    portal = signed_in.post("/logout/")

    assert answered_problem(api, 403)["code"] == "csrf_failed"
    html_page(portal, 403)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("PUT", "/api/v1/tokens/", {"content_type": "application/json"}, 405, "method_not_allowed"),
        ("GET", "/api/v1/teams/", {"headers": {"Accept": "text/html"}}, 406, "not_acceptable"),
        ("POST", "/api/v1/tokens/", {"content_type": "text/plain"}, 415, "unsupported_media_type"),
        ("POST", "/api/v1/tokens/", {"content_type": "application/json"}, 400, "parse_error"),
    ],
)
def test_http_level_refusals_are_problems(with_token, method, path, kwargs, status, code):
    response = with_token.generic(method, path, b"{not json", **kwargs)

    assert answered_problem(response, status)["code"] == code
    if status == 405:
        assert set(response["Allow"].split(", ")) >= {"POST", "OPTIONS"}


def test_a_body_above_the_upload_limit_is_a_413_problem_before_anything_reads_it(settings, callers):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    too_big = json.dumps({"name": "x" * 10_000})
    just_fits = json.dumps({"name": "x" * 9_000})

    for caller in ("anonymous", "token"):
        for path in ("/api/v1/tokens/", "/api/v1/no-such-thing/"):
            refused = callers[caller].post(path, too_big, content_type="application/json")
            assert answered_problem(refused, 413)["code"] == "body_too_large", (caller, path)
    parsed = callers["token"].post("/api/v1/tokens/", just_fits, content_type="application/json")

    assert answered_problem(parsed, 422)["errors"].keys() == {"name"}


@error_urls
@pytest.mark.parametrize("path", ["/api/v1/test/read-body/", "/api/v1/test/api-read-body/"])
def test_a_view_reading_a_body_above_the_limit_answers_413_where_the_middleware_is_absent(
    settings, path
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    settings.MIDDLEWARE = [
        name for name in settings.MIDDLEWARE if not name.endswith("BodySizeLimitMiddleware")
    ]

    response = Client().post(path, "x" * 2_000, content_type="application/json")

    assert answered_problem(response, 413)["code"] == "body_too_large"


def test_a_host_that_is_not_allowed_is_a_400_problem_under_api_and_a_page_in_the_portal():
    api = Client().get("/api/v1/teams/", headers={"Host": "evil.example"})
    portal = Client().get("/login/", headers={"Host": "evil.example"})

    assert answered_problem(api, 400)["code"] == "disallowed_host"
    html_page(portal, 400)


@error_urls
def test_a_suspicious_request_is_a_400_problem_that_keeps_its_reason_to_itself():
    api = Client().get("/api/v1/test/suspicious/")
    portal = Client().get("/test/suspicious/")

    assert answered_problem(api, 400)["code"] == "bad_request"
    assert SECRET not in api.content.decode()
    html_page(portal, 400)


@error_urls
def test_a_throttle_that_cannot_say_when_still_answers_429_with_retry_after():
    response = Client().get("/api/v1/test/throttled/")

    assert answered_problem(response, 429)["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1


@error_urls
@pytest.mark.parametrize("path", ["/api/v1/test/crash/", "/api/v1/test/api-crash/"])
def test_a_crash_under_api_is_a_500_problem_without_a_traceback(settings, path):
    assert not settings.DEBUG
    response = Client(raise_request_exception=False).get(path)

    assert answered_problem(response, 500)["code"] == "server_error"
    text = response.content.decode()
    assert SECRET not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text


@error_urls
def test_a_crash_in_the_portal_is_the_portal_s_page():
    response = Client(raise_request_exception=False).get("/test/crash/")

    html_page(response, 500)
    assert SECRET not in response.content.decode()
    assert "Something went wrong on our side" in response.content.decode()
