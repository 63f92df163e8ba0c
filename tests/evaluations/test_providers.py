"""The providers: `echo` offline, `openai` against a real local HTTP server speaking the Chat
Completions JSON (pytest-httpserver), with retries, timeouts, the key and the SSRF guard."""

import json
import logging
import ssl
import subprocess
import time
from decimal import Decimal

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from prompts.evaluations import providers
from prompts.evaluations.models import Model
from prompts.evaluations.providers.base import Completion, ProviderError

pytestmark = pytest.mark.django_db

KEY = "sk-test-0123456789abcdef-never-show-me"


def chat_answer(text="Bonjour", prompt_tokens=12, completion_tokens=3) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


@pytest.fixture
def fast(settings, monkeypatch):
    """Calls to the local server allowed, short timeouts, the key in the environment."""
    settings.PROVIDER_ALLOW_PRIVATE = True
    settings.PROVIDER_TIMEOUT_SECONDS = 2
    settings.PROVIDER_MAX_RETRIES = 2
    monkeypatch.setenv("TEST_PROVIDER_API_KEY", KEY)
    monkeypatch.setattr(
        "prompts.evaluations.providers.openai_compatible.BACKOFF_BASE_SECONDS", 0.01
    )
    return settings


@pytest.fixture
def remote(httpserver):
    return Model.objects.create(
        name="gpt-test-2025-01-01",
        provider="openai",
        provider_model_id="gpt-test",
        base_url=httpserver.url_for("/v1"),
        api_key_env="TEST_PROVIDER_API_KEY",
        price_in_per_million=Decimal("2.5"),
        price_out_per_million=Decimal("10"),
    )


def run(model, rendered="Say hello", model_config=None) -> Completion:
    return providers.complete(model=model, rendered=rendered, model_config=model_config or {})


# --- echo -----------------------------------------------------------------------------------


def test_the_local_model_echoes_a_text_prompt_exactly_at_no_cost():
    local = Model.objects.get(name="local")
    completion = run(local, "Hello Ada,\n  how are you? ")
    assert local.is_offline_echo
    assert completion.text == "Hello Ada,\n  how are you? "
    assert completion.input_tokens == completion.output_tokens == 7  # ceil(26 / 4)
    assert completion.cost_usd == 0
    assert completion.latency_ms >= 0


def test_echo_gives_a_chat_prompt_as_promptfoo_passes_it_the_messages_json():
    local = Model.objects.get(name="local")
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Grüß Ada"},
    ]
    completion = run(local, messages)
    assert completion.text == (
        '[{"role":"system","content":"Be brief."},{"role":"user","content":"Grüß Ada"}]'
    )
    assert json.loads(completion.text) == messages
    assert run(local, messages).text == completion.text  # deterministic


def test_echo_costs_what_its_prices_say():
    priced = Model.objects.create(
        name="echo-priced", provider="echo", price_in_per_million=1, price_out_per_million=3
    )
    completion = run(priced, "x" * 4000)  # 1,000 tokens in and out
    assert completion.cost_usd == pytest.approx(0.001 + 0.003)


# --- openai: success ------------------------------------------------------------------------


def test_a_chat_completion_gives_text_tokens_and_cost(fast, remote, httpserver):
    httpserver.expect_request(
        "/v1/chat/completions", method="POST", headers={"Authorization": f"Bearer {KEY}"}
    ).respond_with_json(chat_answer("Bonjour", 1000, 2000))

    completion = run(
        remote,
        [{"role": "system", "content": "French."}, {"role": "user", "content": "Hello"}],
        {"model": "ignored", "temperature": 0.2, "max_tokens": 50, "stop": ["\n"], "tone": "x"},
    )

    assert completion.text == "Bonjour"
    assert (completion.input_tokens, completion.output_tokens) == (1000, 2000)
    assert completion.cost_usd == pytest.approx(1000 * 2.5 / 1e6 + 2000 * 10 / 1e6)
    assert completion.latency_ms > 0
    (request, _), *_ = httpserver.log
    body = request.get_json()
    assert body["model"] == "gpt-test"
    assert body["messages"] == [
        {"role": "system", "content": "French."},
        {"role": "user", "content": "Hello"},
    ]
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.2, 50, ["\n"])
    assert "tone" not in body
    # connected to the address checked, the URL's host kept in the Host header
    assert request.headers["Host"] == f"localhost:{httpserver.port}"


def test_a_text_prompt_is_one_user_message_and_the_name_stands_in_for_the_id(
    fast, remote, httpserver
):
    remote.provider_model_id = ""
    remote.save()
    httpserver.expect_request("/v1/chat/completions").respond_with_json(chat_answer("ok"))
    assert run(remote, "Hi there").text == "ok"
    body = httpserver.log[0][0].get_json()
    assert body["model"] == "gpt-test-2025-01-01"
    assert body["messages"] == [{"role": "user", "content": "Hi there"}]


# --- openai: retries ------------------------------------------------------------------------


def test_a_429_waits_what_retry_after_asks_then_succeeds(fast, remote, httpserver):
    httpserver.expect_ordered_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_ordered_request("/v1/chat/completions").respond_with_json(chat_answer())

    started = time.monotonic()
    completion = run(remote)
    elapsed = time.monotonic() - started

    assert completion.text == "Bonjour"
    assert len(httpserver.log) == 2
    assert elapsed >= 1.0
    assert elapsed < 1.9  # the wait was Retry-After, not an ever growing backoff
    assert completion.latency_ms < 900  # the successful attempt's, not the wait


def test_a_429_asking_for_a_long_wait_is_an_error_at_once(fast, remote, httpserver):
    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "quota"}}, status=429, headers={"Retry-After": "3600"}
    )
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"HTTP 429: quota; it asks to wait 3600 s"):
        run(remote)
    assert time.monotonic() - started < 1
    assert len(httpserver.log) == 1


def test_500_again_and_again_is_an_error_after_the_retries(fast, remote, httpserver):
    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "upstream broke"}}, status=500
    )
    with pytest.raises(ProviderError, match=r"HTTP 500: upstream broke"):
        run(remote)
    assert len(httpserver.log) == 1 + fast.PROVIDER_MAX_RETRIES


def test_a_400_is_not_tried_again(fast, remote, httpserver):
    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "bad temperature"}}, status=400
    )
    with pytest.raises(ProviderError, match="HTTP 400: bad temperature"):
        run(remote)
    assert len(httpserver.log) == 1


def test_a_server_slower_than_the_timeout_is_an_error(fast, remote, httpserver):
    fast.PROVIDER_TIMEOUT_SECONDS = 0.3
    fast.PROVIDER_MAX_RETRIES = 1

    calls = []

    def slow(request):
        calls.append(request)
        time.sleep(0.8)
        return Response(json.dumps(chat_answer()), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(slow)
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"no answer within 0.3 s"):
        run(remote)
    elapsed = time.monotonic() - started
    assert 0.3 * 2 <= elapsed < 0.3 * 2 + 1.0  # two attempts timed out, a short backoff
    assert calls  # (the one-threaded server answers the second only after the first)


# --- openai: bad answers --------------------------------------------------------------------


def test_malformed_json_is_a_clear_error(fast, remote, httpserver):
    httpserver.expect_request("/v1/chat/completions").respond_with_data(
        '{"choices": [', content_type="application/json"
    )
    with pytest.raises(ProviderError, match="not JSON"):
        run(remote)


def test_an_answer_without_a_choice_is_a_clear_error(fast, remote, httpserver):
    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        {**chat_answer(), "choices": []}
    )
    with pytest.raises(ProviderError, match="without a choice"):
        run(remote)


def test_an_answer_without_text_is_a_clear_error(fast, remote, httpserver):
    answer = chat_answer()
    answer["choices"][0]["message"] = {"role": "assistant", "content": None}
    answer["choices"][0]["finish_reason"] = "content_filter"
    httpserver.expect_request("/v1/chat/completions").respond_with_json(answer)
    with pytest.raises(ProviderError, match=r"without text.*content_filter"):
        run(remote)


# --- openai: the key ------------------------------------------------------------------------


def test_the_key_never_shows_in_errors_or_logs(fast, remote, httpserver, caplog):
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request(
        "/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"}
    ).respond_with_json({"error": {"message": f"Key {KEY} is over quota"}}, status=503)

    with pytest.raises(ProviderError) as raised:
        run(remote)

    assert len(httpserver.log) == 3  # every attempt carried the key as its Bearer token
    assert KEY not in str(raised.value)
    assert "[key]" in str(raised.value)
    assert raised.value.__context__ is None  # no chained exception holds the request
    assert caplog.records, "the retries are logged"
    assert all(KEY not in record.getMessage() for record in caplog.records)
    assert KEY not in caplog.text


def test_no_key_is_a_clear_error_naming_the_variable(fast, remote, monkeypatch, httpserver):
    monkeypatch.delenv("TEST_PROVIDER_API_KEY")
    with pytest.raises(ProviderError, match="TEST_PROVIDER_API_KEY"):
        run(remote)
    assert httpserver.log == []


def test_the_key_may_come_from_the_settings(fast, remote, monkeypatch, httpserver):
    monkeypatch.delenv("TEST_PROVIDER_API_KEY")
    fast.PROVIDER_API_KEYS = {"TEST_PROVIDER_API_KEY": "sk-from-settings"}
    httpserver.expect_request(
        "/v1/chat/completions", headers={"Authorization": "Bearer sk-from-settings"}
    ).respond_with_json(chat_answer())
    assert run(remote).text == "Bonjour"


# --- openai: SSRF ---------------------------------------------------------------------------


def test_a_private_base_url_is_refused_without_provider_allow_private(fast, remote, httpserver):
    fast.PROVIDER_ALLOW_PRIVATE = False
    httpserver.expect_request("/v1/chat/completions").respond_with_json(chat_answer())
    with pytest.raises(ProviderError, match=r"127\.0\.0\.1.*not a public address"):
        run(remote)
    assert httpserver.log == []


@pytest.mark.parametrize(
    "base_url",
    ["http://169.254.169.254/latest", "http://10.0.0.8/v1", "http://[::1]:8000/v1"],
)
def test_link_local_and_private_addresses_are_refused(fast, remote, base_url):
    fast.PROVIDER_ALLOW_PRIVATE = False
    remote.base_url = base_url
    with pytest.raises(ProviderError, match="not a public address"):
        run(remote)


def test_a_redirect_is_not_followed(fast, remote, httpserver):
    httpserver.expect_request("/v1/chat/completions").respond_with_data(
        "", status=307, headers={"Location": "http://169.254.169.254/"}
    )
    with pytest.raises(ProviderError):
        run(remote)
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("not json at all", "text/plain"),
        ("<html>gateway</html>", "text/html"),
        ("[]", "application/json"),
        ('{"choices": "many"}', "application/json"),
        ('{"choices": [{"message": "hi"}]}', "application/json"),
        ('{"choices": [{"message": {"content": 42}}]}', "application/json"),
        ('{"choices": [null]}', "application/json"),
    ],
)
def test_any_odd_answer_is_a_provider_error(fast, remote, httpserver, body, content_type):
    httpserver.expect_request("/v1/chat/completions").respond_with_data(
        body, content_type=content_type
    )
    with pytest.raises(ProviderError):
        run(remote)


# --- openai: TLS to the pinned address ------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path, monkeypatch):
    """A Chat Completions server on https://localhost with a self-signed certificate, which the
    provider trusts through SSL_CERT_FILE."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
    command += " -addext subjectAltName=DNS:localhost"
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server = HTTPServer(host="localhost", ssl_context=context)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_tls_goes_to_the_checked_address_verified_for_the_urls_host(fast, remote, tls_server):
    tls_server.expect_request("/v1/chat/completions").respond_with_json(chat_answer("secure"))
    remote.base_url = f"https://localhost:{tls_server.port}/v1"
    assert run(remote).text == "secure"
    assert tls_server.log[0][0].headers["Host"] == f"localhost:{tls_server.port}"


def test_tls_to_a_host_the_certificate_does_not_name_fails(fast, remote, tls_server):
    tls_server.expect_request("/v1/chat/completions").respond_with_json(chat_answer())
    remote.base_url = f"https://127.0.0.1:{tls_server.port}/v1"
    with pytest.raises(ProviderError, match="connection failed"):
        run(remote)
