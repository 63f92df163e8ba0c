"""The `openai` provider: any OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM,
Ollama, a LiteLLM proxy, Azure-compatible gateways) through the official `openai` package.

- The key comes from the environment variable the model names (`api_key_env`, default
  `OPENAI_API_KEY`), else from the optional setting `PROVIDER_API_KEYS` (a dict of the same
  names). It is never stored, logged or put into an error message: every message is scrubbed.
- The base URL's host must resolve to public addresses only, unless `PROVIDER_ALLOW_PRIVATE`
  (the webhook guard's address checks, at call time); the connection goes to the very address
  checked (no second DNS lookup), directly (no proxy from the environment), verifying TLS
  against the system's certificate store (`SSL_CERT_FILE` names another); redirects are not
  followed.
- One attempt lasts at most `PROVIDER_TIMEOUT_SECONDS`. A 429, a 5xx, a timeout or a refused
  connection is tried again, at most `PROVIDER_MAX_RETRIES` times, after an exponential backoff
  with full jitter, or after exactly what `Retry-After` asks (more than 30 s: not tried
  again). The retries are ours (the client's `max_retries=0`; it does honour `Retry-After`, but
  also retries 408/409 and logs on its own) so that the count, the cap and the logging are this
  module's. The latency reported is the successful attempt's.
"""

import functools
import logging
import os
import random
import ssl
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2
import openai
from django.conf import settings
from django.utils import timezone

from prompts.evaluations.models import Model
from prompts.evaluations.providers.base import (
    Completion,
    ProviderError,
    cost_usd,
    estimate_tokens,
)
from teams.notifications import ssrf

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
# A server asking for a longer wait is not tried again: the case reports it at once (a run's
# task has CELERY_TASK_TIME_LIMIT for all its cases).
RETRY_AFTER_MAX_SECONDS = 30.0
# model_config keys passed on to Chat Completions; everything else (`model` included) is not.
PARAMETERS = frozenset(
    {
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "top_p",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "response_format",
        "logit_bias",
        "user",
        "reasoning_effort",
    }
)


def parameters(model_config: dict) -> dict[str, Any]:
    return {key: value for key, value in model_config.items() if key in PARAMETERS}


def messages_of(rendered: str | list[dict]) -> list[dict]:
    if isinstance(rendered, str):
        return [{"role": "user", "content": rendered}]
    return [{"role": m.get("role", "user"), "content": m.get("content", "")} for m in rendered]


def api_key(model: Model) -> str:
    name = model.api_key_env or DEFAULT_KEY_ENV
    key = os.environ.get(name) or getattr(settings, "PROVIDER_API_KEYS", {}).get(name)
    if not key:
        raise ProviderError(
            f"No API key for {model.name}: set the environment variable {name} "
            "(or PROVIDER_API_KEYS in the settings)."
        )
    return key


def check_base_url(url: str) -> tuple[str, str]:
    """At each call: http(s), no credentials in the URL, and (unless PROVIDER_ALLOW_PRIVATE)
    every address of the host public. Returns the host and the address to connect to."""
    try:
        target = ssrf.parse(url)
        addresses = ssrf.resolve(target.host, target.port)
    except ssrf.UnsafeURL as exc:
        raise ProviderError(f"The model's base URL cannot be called: {exc}") from exc
    refused = [str(address) for address in addresses if not ssrf.is_public(address)]
    if refused and not settings.PROVIDER_ALLOW_PRIVATE:
        raise ProviderError(
            f"The model's base URL host {target.host} resolves to {', '.join(refused)}, which "
            "is not a public address (PROVIDER_ALLOW_PRIVATE is off)."
        )
    return target.host, str(addresses[0])


class PinnedTransport(httpx2.HTTPTransport):
    """Connects to the address that was checked, never to a later DNS answer (a rebinding
    between the check and the connection): the URL's host stays in the Host header and in
    TLS (SNI and the certificate's name)."""

    def __init__(self, *, host: str, address: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host, self.address = host, address

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.host != self.host:
            raise httpx2.ConnectError(f"Refused to reach {request.url.host}.", request=request)
        request.extensions = {**request.extensions, "sni_hostname": self.host}
        request.url = request.url.copy_with(host=self.address)
        return super().handle_request(request)


def _scrub(text: str, key: str) -> str:
    return text.replace(key, "[key]") if key else text


def retry_after_seconds(headers: Any) -> float | None:
    """`Retry-After` (seconds or an HTTP date) or `retry-after-ms`, if the answer has one."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value) - timezone.now()).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    return random.uniform(0, min(BACKOFF_BASE_SECONDS * 2**attempt, BACKOFF_MAX_SECONDS))


def _describe(exc: openai.APIError, key: str) -> str:
    return _scrub(_what_failed(exc), key)


def _what_failed(exc: openai.APIError) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return f"no answer within {settings.PROVIDER_TIMEOUT_SECONDS:g} s"
    if isinstance(exc, openai.APIConnectionError):
        return "the connection failed"
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        return f"HTTP {exc.status_code}" + (f": {message[:300]}" if message else "")
    if isinstance(exc, openai.APIResponseValidationError):
        return "the answer is not a Chat Completions response"
    return type(exc).__name__


def _retryable(exc: openai.APIError) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # timeouts are connection errors here
        return True
    return isinstance(exc, openai.APIStatusError) and (
        exc.status_code == 429 or exc.status_code >= 500
    )


class _TooLong(Exception):
    def __init__(self, error: openai.APIError, wait: float) -> None:
        super().__init__()
        self.error, self.wait = error, wait


def _call(client: openai.OpenAI, model: Model, request: dict, key: str) -> tuple[Any, float]:
    """The answer and its attempt's latency (ms), after at most PROVIDER_MAX_RETRIES retries;
    raises openai.APIError."""
    attempt = 0
    while True:
        started = time.perf_counter()
        try:
            answer = client.chat.completions.create(**request)
            return answer, (time.perf_counter() - started) * 1000
        except openai.APIError as exc:
            if not _retryable(exc) or attempt >= settings.PROVIDER_MAX_RETRIES:
                raise
            headers = exc.response.headers if isinstance(exc, openai.APIStatusError) else None
            wait = backoff_seconds(attempt, retry_after_seconds(headers))
            if wait > RETRY_AFTER_MAX_SECONDS:
                raise _TooLong(exc, wait) from None
            logger.info(
                "model %s: %s; retry %d of %d in %.2f s",
                model.name,
                _describe(exc, key),
                attempt + 1,
                settings.PROVIDER_MAX_RETRIES,
                wait,
            )
            time.sleep(wait)
            attempt += 1


def _completion(model: Model, answer: Any, latency_ms: float) -> Completion:
    choices = getattr(answer, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise ProviderError(f"{model.name} answered without a choice.")
    message = getattr(choices[0], "message", None)
    text = getattr(message, "content", None)
    if not isinstance(text, str):
        refusal = getattr(message, "refusal", None)
        reason = getattr(choices[0], "finish_reason", None)
        raise ProviderError(
            f"{model.name} answered without text"
            + (f" (refusal: {str(refusal)[:300]})" if refusal else "")
            + (f" (finish_reason: {reason})" if reason else "")
            + "."
        )
    usage = getattr(answer, "usage", None)
    input_tokens = getattr(usage, "prompt_tokens", None)
    output_tokens = getattr(usage, "completion_tokens", None)
    if not isinstance(input_tokens, int) or not isinstance(output_tokens, int):
        input_tokens, output_tokens = 0, estimate_tokens(text)  # no usage: an estimate
    return Completion(
        text=text,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        latency_ms=latency_ms,
        cost_usd=cost_usd(model=model, input_tokens=input_tokens, output_tokens=output_tokens),
    )


@functools.lru_cache(maxsize=4)
def _tls(ca_file: str | None) -> ssl.SSLContext:
    """The system's CA store (or SSL_CERT_FILE's), loaded once per process and CA file: it
    costs tens of milliseconds."""
    return ssl.create_default_context()


@functools.lru_cache(maxsize=32)
def _client(
    host: str, address: str, base_url: str, key: str, timeout: float, ca_file: str | None
) -> openai.OpenAI:
    """One client (and its connection pool) per endpoint, checked address, key, timeout and CA,
    shared by the threads of a run: building one costs about 100 ms. A new address (DNS
    changed) is a new client, pinned to the address just checked."""
    transport = PinnedTransport(host=host, address=address, verify=_tls(ca_file), trust_env=False)
    http = openai.DefaultHttpxClient(
        transport=transport, follow_redirects=False, timeout=timeout, trust_env=False
    )
    return openai.OpenAI(
        api_key=key, base_url=base_url, timeout=timeout, max_retries=0, http_client=http
    )


def complete(*, model: Model, rendered: str | list[dict], model_config: dict) -> Completion:
    base_url = model.base_url or DEFAULT_BASE_URL
    host, address = check_base_url(base_url)
    key = api_key(model)
    request = {
        **parameters(model_config),
        "model": model.provider_model_id or model.name,
        "messages": messages_of(rendered),
    }
    failure = ""
    try:
        client = _client(
            host,
            address,
            base_url,
            key,
            settings.PROVIDER_TIMEOUT_SECONDS,
            os.environ.get("SSL_CERT_FILE"),
        )
        answer, latency_ms = _call(client, model, request, key)
    except openai.APIError as exc:
        failure = f"{model.name}: {_describe(exc, key)}."
    except _TooLong as exc:
        failure = (
            f"{model.name}: {_describe(exc.error, key)}; it asks to wait {exc.wait:.0f} s, "
            f"more than {RETRY_AFTER_MAX_SECONDS:.0f} s: not tried again."
        )
    except ValueError as exc:  # a body that is not JSON
        failure = f"{model.name} answered with something that is not JSON ({type(exc).__name__})."
    if failure:  # raised here, so that no chained exception carries the request and its key
        raise ProviderError(failure)
    return _completion(model, answer, latency_ms)
