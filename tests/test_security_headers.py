"""Security headers: a strict Content-Security-Policy on the portal's pages and the API docs, and
HSTS, an HTTPS redirect and secure cookies behind a TLS proxy. The production settings pass
`manage.py check --deploy` without a warning.

The TLS settings are read from the environment when the settings module loads, so those tests
start Python in a subprocess with the environment an operator would set."""

import json
import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse

from portal.api.docs import REDOC_BUNDLE_STYLES
from prompts.services import deployment_set
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


def csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";"))}


class InlineCode(HTMLParser):
    """Collects what a strict CSP would refuse: inline scripts, style blocks and attributes,
    event-handler attributes, and htmx's evaluated attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_code_script = False

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        attributes = dict(attrs)
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in names:
            self._in_code_script = attributes.get("type") not in {"application/json"}
        self.found += [f"{tag} {name}" for name in names if name == "style"]
        self.found += [f"{tag} {name}" for name in names if name.startswith(("on", "hx-on"))]

    def handle_data(self, data):
        if self._in_code_script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_code_script = False


def inline_code(response) -> list[str]:
    parser = InlineCode()
    parser.feed(response.content.decode())
    return parser.found


@pytest.fixture
def deployed(prompt, make_version, environments):
    version = make_version(prompt, text="Hello {{name}}")
    deployment_set(
        action="deployment.seeded",
        prompt=prompt,
        environment=environments["production"],
        version=version,
        actor=None,
    )
    return prompt


def test_portal_pages_carry_a_strict_policy_and_no_inline_code(client, deployed):
    login = client.get(reverse("login"))
    client.force_login(UserFactory(username="sam", is_staff=True))
    pages = [
        login,
        client.get(reverse("home")),
        client.get(reverse("prompts:detail", args=["support", "refund-reply"])),
        client.get(reverse("prompts:version", args=["support", "refund-reply", 1])),
        client.get(reverse("audit:log")),
    ]

    for response in pages:
        assert response.status_code == 200
        policy = csp(response)
        assert {name: policy.get(name) for name in STRICT} == STRICT
        assert "'unsafe-inline'" not in policy["script-src"]
        assert "'unsafe-eval'" not in policy["script-src"]
        assert inline_code(response) == []


def test_htmx_is_configured_not_to_inject_styles_or_eval(client):
    body = client.get(reverse("login")).content.decode()

    config = body.split('<meta name="htmx-config" content=\'', 1)[1].split("'>", 1)[0]
    assert json.loads(config) == {
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
    }


def test_api_docs_load_their_script_from_the_portal_under_the_strict_policy(client):
    page = client.get("/api/v1/docs/")
    script = client.get("/api/v1/docs/", {"script": ""})

    policy = csp(page)
    assert policy["script-src"] == ["'self'"]  # the assets are ours: no CDN origin
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert inline_code(page) == []
    body = page.content.decode()
    assert '<script src="/api/v1/docs/?script="></script>' in body
    assert (
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js">'
        in body
    )
    assert "https://" not in body
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
    assert "https://" not in script.content.decode()


def test_redoc_loads_from_the_portal_with_its_nonce_styles_and_a_blob_worker(client):
    page = client.get("/api/v1/redoc/")

    policy = csp(page)
    body = page.content.decode()
    nonce = body.split(' nonce="', 1)[1].split('"', 1)[0]
    assert len(nonce) >= 16
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", f"'nonce-{nonce}'", *REDOC_BUNDLE_STYLES]
    assert policy["worker-src"] == ["'self'", "blob:"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert inline_code(page) == []
    assert (
        '<script src="/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js">' in body
    )
    assert "https://" not in body  # no Google Fonts


def test_admin_history_allows_only_its_one_style_attribute(client, deployed):
    client.force_login(UserFactory(username="sam", is_staff=True))

    history = client.get(reverse("admin:prompts_prompt_history", args=[deployed.pk]))
    index = client.get(reverse("admin:index"))

    assert csp(history)["style-src-attr"] == [
        "'unsafe-hashes'",
        "'sha256-XMXSevYjgSjXgRafBFDvtjwX+yyWLrxfso9DcNZ9UXM='",  # of "border-top: 0"
    ]
    assert csp(history)["script-src"] == ["'self'"]
    assert "style-src-attr" not in csp(index)


# --- TLS: the settings an operator sets in production ------------------------------------------


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECURE_", "DJANGO_", "DEBUG", "BEHIND_TLS_PROXY"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        BEHIND_TLS_PROXY="1",
        DATABASE_URL=os.environ.get("DATABASE_URL") or "postgres://portal@127.0.0.1:5432/portal",
        ALLOWED_HOSTS="prompts.example.com",
        AUDIT_CHAIN_KEY=f"k1:{secrets.token_urlsafe(32)}",
    )
    env.update(overrides)
    return env


# Requests through Django's test client in a fresh process; none of them touches the database.
# Static URLs are not under test, so they come without collectstatic's manifest.
PROBE = """
import json
import django
django.setup()
from django.conf import settings
from django.test import Client, override_settings

override_settings(STORAGES={
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}).enable()

client = Client(HTTP_HOST="prompts.example.com")
https = {"headers": {"X-Forwarded-Proto": "https"}}
login = client.get("/login/", **https)
plain = client.get("/login/")
ping = client.get("/ping/")
print(json.dumps({
    "hsts": login.get("Strict-Transport-Security"),
    "csrf_cookie_secure": bool(login.cookies["csrftoken"]["secure"]),
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "plain": [plain.status_code, plain.get("Location")],
    "ping": ping.status_code,
    "ping_hsts": ping.get("Strict-Transport-Security"),
    "referrer_policy": login.get("Referrer-Policy"),
    "opener_policy": login.get("Cross-Origin-Opener-Policy"),
}))
"""


def probe(env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_behind_a_tls_proxy_https_is_enforced_with_hsts_and_secure_cookies():
    answers = probe(production_env())

    assert answers["hsts"] == "max-age=31536000; includeSubDomains"
    assert answers["csrf_cookie_secure"] is True
    assert answers["session_cookie_secure"] is True
    assert answers["plain"] == [301, "https://prompts.example.com/login/"]
    assert answers["ping"] == 200  # liveness probes may call a node over plain HTTP
    assert answers["ping_hsts"] is None  # HSTS only ever comes over HTTPS
    assert answers["referrer_policy"] == "same-origin"
    assert answers["opener_policy"] == "same-origin"


def test_hsts_and_the_redirect_are_configurable():
    answers = probe(
        production_env(
            SECURE_HSTS_SECONDS="600", SECURE_HSTS_INCLUDE_SUBDOMAINS="0", SECURE_SSL_REDIRECT="0"
        )
    )

    assert answers["hsts"] == "max-age=600"
    assert answers["plain"] == [200, None]


def test_cookies_are_secure_behind_a_tls_proxy_even_in_debug():
    answers = probe(production_env(DEBUG="1"))

    assert answers["csrf_cookie_secure"] is True
    assert answers["session_cookie_secure"] is True


def test_check_deploy_is_clean_with_production_settings():
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    # The one silence is security.W021 (HSTS preload), justified in portal/settings.py.
    assert "System check identified no issues (1 silenced)." in done.stdout
