"""OpenAPI: every operation documents its problem+json error responses."""

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from portal.api.problems import PROBLEM_CONTENT_TYPE

ERROR_DESCRIPTIONS = {
    "400": "Malformed request (for example invalid JSON).",
    "401": "No credentials, or an unknown, revoked or expired token.",
    "403": "Authenticated, but not allowed to do this.",
    "404": "No such object, or one the caller may not see.",
    "409": "Conflicts with the current state (duplicate, unchanged content, a race lost).",
    "413": "The body is larger than the server accepts.",
    "415": "The body is not JSON (or another accepted media type).",
    "422": "Invalid input; `errors` names each field.",
    "429": "Throttled: too many failed authentications from this address, or renders by this "
    "caller; `Retry-After` says when to come back.",
}


class ProblemSessionScheme(SessionScheme):
    """The portal's session authentication (CSRF refusals as problems) is still a session
    cookie; drf-spectacular's extensions do not match subclasses by themselves."""

    target_class = "portal.api.authentication.SessionAuthentication"


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="A URN naming the kind of problem.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="What went wrong, for a person.")
    code = serializers.CharField(help_text="Stable machine-readable code.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation messages per field (dotted paths for nested fields).",
    )


class ProblemAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["401", "403", "404", "429"]
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes += ["400", "409", "413", "415", "422"]
        elif self._get_filter_parameters() or self.get_override_parameters():
            codes += ["422"]
        for code in sorted(codes):
            if code not in responses:
                response = self._get_response_for_code(
                    ProblemSerializer, code, media_types=[PROBLEM_CONTENT_TYPE]
                )
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses


def request_example(name: str, value: dict) -> OpenApiExample:
    """A request body for the docs; schemathesis's examples phase sends it as well, so the
    success path of every write is checked against its documented answer."""
    return OpenApiExample(name, value=value, request_only=True)


def problem(status: int, description: str, serializer=ProblemSerializer) -> dict:
    """An answer beyond the usual problems, for `extend_schema(responses={..., **problem(…)})`:
    documented as problem+json, as it is sent."""
    return {(status, PROBLEM_CONTENT_TYPE): OpenApiResponse(serializer, description=description)}
