"""Security headers: a strict Content-Security-Policy on the portal's pages and the API docs."""

import json
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from prompts.services import deployment_set
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

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
    assert policy["script-src"] == ["'self'", "https://cdn.jsdelivr.net"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["img-src"] == ["'self'", "https://cdn.jsdelivr.net", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert inline_code(page) == []
    assert '<script src="/api/v1/docs/?script="></script>' in page.content.decode()
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


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
