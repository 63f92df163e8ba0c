"""GET /api/public/projects: what the SDK's `auth_check()` asks. The portal is one Langfuse
"project": the answer only proves that the keys are a token the portal accepts."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.langfuse.errors import LangfuseView
from portal.api.permissions import IsPersonOrServiceReading

PROJECT = {
    "id": "prompt-portal",
    "name": "Prompt governance portal",
    "organization": {"id": "prompt-portal", "name": "Prompt governance portal"},
    "metadata": {},
}


class Projects(LangfuseView):
    permission_classes = [IsPersonOrServiceReading]

    @extend_schema(
        responses={
            200: inline_serializer(
                "LangfuseProjects", {"data": serializers.ListField(child=serializers.DictField())}
            )
        },
        description="Langfuse's project list, as the langfuse SDK's auth_check() reads it.",
    )
    def get(self, request: Request) -> Response:
        return Response({"data": [PROJECT]})
