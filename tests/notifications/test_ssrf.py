"""The SSRF guard's address rules, and that a delivery connects to the address it checked."""

import ipaddress
import json
import socket
import threading
import time

import pytest

from teams.notifications import ssrf
from teams.notifications.webhooks import post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("127.1.2.3", False),
        ("::1", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("224.0.0.1", False),
        ("233.252.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 around 169.254.169.254
        ("fec0::1", False),  # deprecated site-local (Python still calls it global)
    ],
)
def test_what_counts_as_public(address, public):
    assert ssrf.is_public(ipaddress.ip_address(address)) is public


def test_a_name_is_judged_by_what_it_resolves_to(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ssrf.UnsafeURL, match=r"resolves to 127\.0\.0\.1"):
        ssrf.pinned_address("http://localhost:9/hook")

    settings.WEBHOOK_ALLOW_PRIVATE = True
    target, address = ssrf.pinned_address("http://localhost:9/hook?x=1")
    assert (target.host, target.port, target.path, address) == (
        "localhost",
        9,
        "/hook?x=1",
        "127.0.0.1",
    )
    assert target.host_header == "localhost:9"


def test_an_unresolvable_name_is_refused(settings):
    with pytest.raises(ssrf.UnsafeURL, match="does not resolve"):
        ssrf.check_url("https://no-such-host.invalid/hook")


def test_the_request_goes_to_the_checked_address_with_the_names_host_header(settings, httpserver):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook").respond_with_data("ok")

    outcome = post(
        url=f"http://localhost:{httpserver.port}/hook",
        body=json.dumps({"a": 1}),
        headers={"Content-Type": "application/json"},
    )

    ((request, _),) = httpserver.log
    assert outcome.ok
    assert request.headers["Host"] == f"localhost:{httpserver.port}"
    assert request.remote_addr == "127.0.0.1"


def test_a_timeout_is_a_retryable_failure(settings, httpserver):
    settings.WEBHOOK_ALLOW_PRIVATE, settings.WEBHOOK_TIMEOUT_SECONDS = True, 0.2

    def slow(request):
        time.sleep(0.6)

    httpserver.expect_request("/slow").respond_with_handler(slow)

    outcome = post(url=f"http://127.0.0.1:{httpserver.port}/slow", body="{}", headers={})

    assert outcome.status_code is None
    assert outcome.retryable
    assert "Timeout" in outcome.error or "timed out" in outcome.error
    deadline = time.monotonic() + 5
    while not httpserver.log and time.monotonic() < deadline:  # the late answer is logged
        time.sleep(0.05)  # before the fixture clears the server for the next test


def test_a_receiver_that_never_finishes_its_body_does_not_hold_the_worker(settings):
    """The status line is the answer: the body is not read, so a receiver that announces a
    body and trickles (or never sends) it cannot keep the delivery waiting."""
    settings.WEBHOOK_ALLOW_PRIVATE, settings.WEBHOOK_TIMEOUT_SECONDS = True, 2
    listener = socket.create_server(("127.0.0.1", 0))
    answered = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nx")
        answered.set()
        time.sleep(5)  # holds the connection open, the body unfinished
        connection.close()

    threading.Thread(target=serve, daemon=True).start()
    started = time.monotonic()

    outcome = post(url=f"http://127.0.0.1:{listener.getsockname()[1]}/hook", body="{}", headers={})

    assert answered.wait(timeout=5)  # the server thread may set it just after the answer
    assert outcome.status_code == 200
    assert time.monotonic() - started < 1.5
    listener.close()
