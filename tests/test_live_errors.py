"""Over real HTTP, through gunicorn with the production configuration (portal/gunicorn.conf.py)
and DEBUG off:

- an unknown API route answers a 404 problem whatever the method (a POST used to meet Django's
  HTML CSRF page);
- a body above DATA_UPLOAD_MAX_MEMORY_SIZE is refused with a 413 problem before it is sent;
- normal large requests pass gunicorn's limits (a JSON body of about 64 KB, an 8 KB URL,
  16 KB of cookies and as much in another header), and requests beyond them are refused;
- behind nginx configured with the README's block (when nginx is installed), the same requests
  pass, and nginx's refusals and gunicorn's HTML ones answer problems under /api/.
"""

import http.client
import json
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from portal.errors import ErrorCode
from teams.tokens import personal_token_create
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory
from tests.live import ROOT, Server, free_port, process_environment, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

PROBLEM = "application/problem+json"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
NGINX = shutil.which("nginx")


@pytest.fixture(scope="module")
def shared_server(django_db_setup):
    """One server for the tests that leave it running (it reads each test's rows afresh)."""
    server = Server(process_environment(settings.REDIS_URL)).start()
    yield server
    server.stop()


@pytest.fixture
def server():
    """A server of the test's own, which it may stop."""
    server = Server(process_environment(settings.REDIS_URL)).start()
    yield server
    server.stop()


def exchange(to: "Server | Nginx", method: str, target: str, *, headers=None, body=None):
    """(status, headers with lower-case names, body) of one request on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", to.port, timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_unknown_api_routes_answer_a_404_problem_for_every_method(shared_server):
    for method in METHODS:
        body = None if method in ("GET", "HEAD") else b'{"name": "typo"}'
        status, headers, content = exchange(
            shared_server,
            method,
            "/api/v1/no-such-thing/",
            headers={"Content-Type": "application/json"},
            body=body,
        )

        assert (status, headers["content-type"]) == (404, PROBLEM), (method, content[:200])
        assert method == "HEAD" or json.loads(content)["code"] == "not_found"


def announce_too_big_a_body(to: "Server | Nginx"):
    """A POST whose Content-Length is above the limit, of which not one byte is sent."""
    announced = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    head = (
        "POST /api/v1/tokens/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {announced}\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", to.port), timeout=10) as sock:
        sock.sendall(head.encode())
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.getheader("Content-Type"), response.read()


def test_a_body_above_the_upload_limit_is_refused_before_it_is_sent(shared_server):
    status, content_type, content = announce_too_big_a_body(shared_server)

    assert (status, content_type) == (413, PROBLEM), content
    assert json.loads(content)["code"] == "body_too_large"


@pytest.fixture
def author_token():
    namespace = NamespaceFactory(slug="support")
    author = UserFactory(username="writer")
    MembershipFactory(team=namespace.team, user=author, role="maintainer")
    PromptFactory(namespace=namespace, name="long-letter")
    return personal_token_create(actor=author, name="live")[1]


def normal_large_requests(to: "Server | Nginx", token: str) -> list[tuple[int, dict, bytes]]:
    """A version of about 64 KB of JSON, a list with an 8 KB URL, one with 16 KB of cookies and
    16 KB in another header; each answer."""
    auth = {"Authorization": f"Bearer {token}"}
    template = "Dear {{name}},\n" + "All is well here, and the weather holds. " * 1_550
    version = json.dumps({"template": template, "variables": ["name"], "message": "long"})
    long_url = "/api/v1/teams/?trace=" + "t" * (8_000 - len("/api/v1/teams/?trace="))
    cookies = "; ".join(f"pref{i}={'c' * 152}" for i in range(100))
    assert 63_000 < len(version) < 64 * 1024
    assert 15_900 < len(cookies) < 16 * 1024
    return [
        exchange(
            to,
            "POST",
            "/api/v1/prompts/support/long-letter/versions/",
            headers={**auth, "Content-Type": "application/json"},
            body=version.encode(),
        ),
        exchange(to, "GET", long_url, headers=auth),
        exchange(
            to, "GET", "/api/v1/teams/", headers={**auth, "Cookie": cookies, "X-Big": "x" * 16_000}
        ),
    ]


def test_normal_large_requests_pass_the_production_limits(shared_server, author_token):
    created, with_long_url, with_big_headers = normal_large_requests(shared_server, author_token)

    assert created[0] == 201, created[2][:300]
    assert json.loads(created[2])["number"] == 1
    assert with_long_url[0] == 200, with_long_url[2][:300]
    assert with_big_headers[0] == 200, with_big_headers[2][:300]


def test_beyond_the_limits_gunicorn_refuses(shared_server):
    """gunicorn's own refusals (HTML pages): a proxy in front refuses sooner, as problems."""
    big = {"X-Big": "x" * 24_000}
    too_long_url = exchange(shared_server, "GET", "/api/v1/teams/?trace=" + "t" * 9_000)
    too_big_header = exchange(shared_server, "GET", "/api/v1/teams/", headers=big)

    assert too_long_url[0] == 414
    assert too_big_header[0] == 431


def readme_nginx_block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Errors: problem+json everywhere\n", 1)[1].split("\n### ", 1)[0]
    return section.split("```nginx\n", 1)[1].split("```", 1)[0]


@dataclass
class Nginx:
    """nginx in the foreground with the README's block, its upstream pointed at `upstream`."""

    directory: Path
    upstream: int
    read_timeout: str = ""
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> "Nginx":
        block = readme_nginx_block()
        replacements = {
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{self.upstream};",
            "listen 80;": f"listen 127.0.0.1:{self.port};",
        }
        if self.read_timeout:
            replacements["proxy_read_timeout 60s;"] = f"proxy_read_timeout {self.read_timeout};"
        for old, new in replacements.items():
            assert block.count(old) == 1, old
            block = block.replace(old, new)
        (self.directory / "logs").mkdir(exist_ok=True)
        config = self.directory / "nginx.conf"
        config.write_text(
            f"pid {self.directory}/nginx.pid;\nerror_log {self.directory}/error.log warn;\n"
            "events { worker_connections 64; }\n"
            f"http {{\naccess_log off;\nclient_body_temp_path {self.directory}/body;\n"
            f"proxy_temp_path {self.directory}/proxy;\n{block}}}\n"
        )
        self.process = subprocess.Popen(
            [NGINX, "-p", self.directory, "-c", config, "-g", "daemon off; master_process off;"]
        )
        if not wait_for(self._listens, 10):
            self.stop()
            raise RuntimeError("nginx did not start")
        return self

    def _listens(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def proxy_problem(answer: tuple[int, dict, bytes], status: int, code: str) -> None:
    got, headers, content = answer
    assert (got, headers.get("content-type")) == (status, PROBLEM), content[:300]
    body = json.loads(content)
    assert (body["status"], body["code"]) == (status, code)
    assert body["type"] == f"urn:prompt-portal:problem:{code}"
    assert code in set(ErrorCode)


nginx_installed = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


@nginx_installed
def test_behind_the_readme_nginx_block_requests_pass_and_refusals_are_problems(
    server, author_token, tmp_path
):
    proxy = Nginx(tmp_path, upstream=server.port).start()
    try:
        passed = normal_large_requests(proxy, author_token)
        unknown = exchange(proxy, "POST", "/api/v1/no-such-thing/", body=b"{}")
        url_gunicorn_refuses = exchange(proxy, "GET", "/api/v1/teams/?t=" + "t" * 12_000)
        url_nginx_refuses = exchange(proxy, "GET", "/api/v1/teams/?t=" + "t" * 30_000)
        big_header = exchange(proxy, "GET", "/api/v1/teams/", headers={"X-Big": "x" * 24_000})
        big_body = announce_too_big_a_body(proxy)
        server.stop()
        node_down = exchange(proxy, "GET", "/api/v1/teams/")
    finally:
        proxy.stop()

    assert [answer[0] for answer in passed] == [201, 200, 200]
    proxy_problem(unknown, 404, "not_found")
    proxy_problem(url_gunicorn_refuses, 414, "uri_too_long")
    proxy_problem(url_nginx_refuses, 414, "uri_too_long")
    proxy_problem(big_header, 431, "headers_too_large")
    proxy_problem((big_body[0], {"content-type": big_body[1]}, big_body[2]), 413, "body_too_large")
    proxy_problem(node_down, 502, "bad_gateway")


@nginx_installed
def test_behind_the_readme_nginx_block_a_silent_node_is_a_504_problem(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connects, never answers
        proxy = Nginx(tmp_path, upstream=silent.getsockname()[1], read_timeout="1s").start()
        try:
            answer = exchange(proxy, "GET", "/api/v1/teams/")
        finally:
            proxy.stop()

    proxy_problem(answer, 504, "gateway_timeout")
