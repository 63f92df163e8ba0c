"""Errors as the `langfuse` SDK expects them: a JSON body on every error (the SDK only raises
its typed errors, `NotFoundError` and the like, for JSON bodies), with Langfuse's `message` and
`error` beside our problem+json fields."""

from typing import Any

from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.langfuse.auth import LangfuseBasicAuthentication
from portal.api.problems import problem_exception_handler

# The names Langfuse's server gives its errors, by status.
NAMES = {
    400: "InvalidRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "LangfuseNotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    410: "LangfuseNotFoundError",
    413: "InvalidRequestError",
    422: "InvalidRequestError",
    429: "TooManyRequestsError",
}


def langfuse_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = problem_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        response.data.setdefault("message", response.data.get("detail", ""))
        response.data.setdefault("error", NAMES.get(response.status_code, "Error"))
    return response


class LangfuseView(APIView):
    """Base of the Langfuse-compatible endpoints: their authentication and error bodies."""

    authentication_classes = [LangfuseBasicAuthentication]

    def get_exception_handler(self):
        return langfuse_exception_handler
