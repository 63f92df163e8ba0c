"""Who is calling, from where: set per request by the middleware, read by the audit writer."""

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from portal.addresses import client_ip

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    client_ip: str = ""
    token_prefix: str = ""


_OUTSIDE_REQUESTS = RequestContext()
_current: ContextVar[RequestContext] = ContextVar("request_context")


def current() -> RequestContext:
    return _current.get(_OUTSIDE_REQUESTS)


def note_token(prefix: str) -> None:
    context = current()  # (dataclasses.replace costs more than this on the resolve hot path)
    _current.set(RequestContext(context.request_id, context.client_ip, prefix))


class RequestContextMiddleware:
    """Gives every request an id (the caller's `X-Request-ID` when sane) and echoes it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        token = _current.set(RequestContext(request_id=request_id, client_ip=client_ip(request)))
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request_id
        return response
