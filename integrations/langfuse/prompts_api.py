"""Langfuse's prompt endpoints (`/api/public/v2/prompts…`), thin: parse, call
integrations.langfuse.prompts, answer in Langfuse's shapes.

Bad input answers 400 (Langfuse's status for it, which the SDK raises as its `Error`) with
`errors` per field, named as Langfuse names them. A write that sets a label needing approval
answers what the version holds now, plus `promotionRequests` (the requests that wait, each
with its URL), `labelOutcomes` (every label's outcome) and the header
`X-Portal-Promotion-Requests` (the waiting requests' URLs, comma-separated).
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.langfuse import prompts, prompts_write
from integrations.langfuse import schemas as s
from integrations.langfuse.errors import LangfuseView, langfuse_exception_handler
from portal.api.permissions import IsPersonOrServiceReading
from portal.api.schema import problem, request_example
from portal.api.views import parse, parse_query
from teams.authentication import require_scope
from teams.scopes import PROMOTIONS_REQUEST

JUSTIFICATION_HEADER = "X-Portal-Justification"
REQUESTS_HEADER = "X-Portal-Promotion-Requests"
DEFAULT_JUSTIFICATION = "Label set through the Langfuse-compatible API."
# Our field names in service errors -> the Langfuse body's names.
FIELD_NAMES = {
    "template": "prompt",
    "messages": "prompt",
    "variables": "prompt",
    "model_config": "config",
    "message": "commitMessage",
}
BAD_REQUEST = problem(400, "Invalid input; `errors` names each field.")
# A name ending in `/versions/<n>` reaches the other route, which has other methods.
WRONG_ROUTE = problem(405, "The name reached the other prompt route (…/versions/<n>).")
NOT_FOUND = problem(
    404,
    "No such prompt, label or version (or one the caller may not read); "
    "a retired prompt names its `successor`.",
)


def _handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = langfuse_exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_422_UNPROCESSABLE_ENTITY:
        response.status_code = status.HTTP_400_BAD_REQUEST
        response.data |= {"status": 400, "error": "InvalidRequestError"}
        errors: dict[str, list[str]] = {}
        for field, messages in response.data.get("errors", {}).items():
            errors.setdefault(FIELD_NAMES.get(field, field), []).extend(messages)
        if errors:
            response.data["errors"] = errors
    return response


class PromptsView(LangfuseView):
    permission_classes = [IsPersonOrServiceReading]

    def get_exception_handler(self):
        return _handler


def _justification(request: Request, commit_message: str | None = None) -> str:
    given = request.headers.get(JUSTIFICATION_HEADER, "").strip()
    return given or (commit_message or "").strip() or DEFAULT_JUSTIFICATION


def _written(request: Request, written: prompts_write.Written, code: int) -> Response:
    outcomes = []
    for outcome in written.outcomes:
        body = outcome.as_json()
        if "request" in body:
            body["request"]["url"] = request.build_absolute_uri(body["request"]["url"])
        outcomes.append(body)
    pending = [
        {
            "id": body["request"]["id"],
            "url": body["request"]["url"],
            "label": body["label"],
            "environment": body["request"]["environment"],
            "state": body["request"]["state"],
            "requiredApprovals": body["request"]["required_approvals"],
            "detail": body["detail"],
        }
        for body in outcomes
        if body["state"] == "pending"
    ]
    answer = prompts.prompt_shape(version=written.version) | {
        "versionCreated": written.created,
        "promotionRequests": pending,
        "labelOutcomes": outcomes,
    }
    headers = {REQUESTS_HEADER: ", ".join(item["url"] for item in pending)} if pending else None
    return Response(answer, status=code, headers=headers)


class PromptList(PromptsView):
    @extend_schema(
        operation_id="langfuse_prompts_list",
        parameters=[s.LangfusePromptListQuerySerializer],
        responses={200: s.LangfusePromptListSerializer, **BAD_REQUEST},
        description="Langfuse's prompt list: the prompts the caller may see, filtered by "
        "`name` (namespace/prompt), `label` (an environment running some version, or "
        "`latest`) and `tag`; `limit` is capped at 100.",
    )
    def get(self, request: Request) -> Response:
        query = parse_query(s.LangfusePromptListQuerySerializer, request)
        data, meta = prompts.prompts_page(user=request.user, **query)
        return Response({"data": data, "meta": meta})

    @extend_schema(
        operation_id="langfuse_prompt_create",
        request=s.LangfusePromptCreateSerializer,
        responses={
            201: s.LangfuseWrittenSerializer,
            200: OpenApiResponse(
                s.LangfuseWrittenSerializer,
                description="The content equals the newest version's: no version was created.",
            ),
        },
        examples=[
            request_example(
                "Text",
                {
                    "name": "support/refund-reply",
                    "type": "text",
                    "prompt": "Hello {{customer}}, {{amount}} is on its way.",
                    "config": {"model": "gpt-4o-mini"},
                    "labels": ["development"],
                    "tags": None,
                    "commitMessage": "Shorter",
                },
            )
        ],
        description="`create_prompt`: the next version of the prompt (the prompt is created "
        "in an existing namespace if missing); unchanged content creates none "
        "(`versionCreated` false, 200). Each label moves as governance allows: one that "
        "needs approval opens a promotion request, listed in `promotionRequests` and the "
        "`X-Portal-Promotion-Requests` header; `labels` are those the version holds. "
        "The justification is the `X-Portal-Justification` header, else the commit message.",
    )
    def post(self, request: Request) -> Response:
        data = parse(s.LangfusePromptCreateSerializer, request)
        labels = data.get("labels") or []
        if any(label != prompts.LATEST for label in labels):
            require_scope(request, PROMOTIONS_REQUEST)
        written = prompts_write.prompt_publish(
            actor=request.user,
            name=data["name"],
            kind=data.get("type") or "text",
            prompt=data["prompt"],
            config=data.get("config"),
            labels=labels,
            tags=data.get("tags"),
            commit_message=data.get("commitMessage"),
            justification=_justification(request, data.get("commitMessage")),
        )
        code = status.HTTP_201_CREATED if written.created else status.HTTP_200_OK
        return _written(request, written, code)


class PromptDetail(PromptsView):
    @extend_schema(
        operation_id="langfuse_prompt_get",
        parameters=[s.LangfusePromptQuerySerializer],
        responses={200: s.LangfusePromptSerializer, **BAD_REQUEST, **NOT_FOUND, **WRONG_ROUTE},
        description="`get_prompt`: the version under `label` (default production; `latest` "
        "is the newest) or `version`, through our resolve (visibility, cache, Deprecation/"
        "Sunset/Link headers). Mustache includes are inlined; jinja2 text is served as it "
        "is (the SDK's compile() does not run jinja2). Retired prompts answer 404.",
    )
    def get(self, request: Request, name: str) -> Response:
        query = parse_query(s.LangfusePromptQuerySerializer, request)
        served = prompts.prompt_served(user=request.user, name=name, **query)
        return Response(served.body, headers=served.headers)


class PromptVersionLabels(PromptsView):
    @extend_schema(
        operation_id="langfuse_prompt_version_labels",
        request=s.LangfuseLabelsSerializer,
        responses={200: s.LangfuseWrittenSerializer, **NOT_FOUND, **WRONG_ROUTE},
        examples=[request_example("Development", {"newLabels": ["development"]})],
        description="`update_prompt`: give the version each label as governance allows (one "
        "that needs approval opens a promotion request). Labels are only added: an "
        "environment is never left without a version.",
    )
    def patch(self, request: Request, name: str, version: int) -> Response:
        data = parse(s.LangfuseLabelsSerializer, request)
        written = prompts_write.labels_add(
            actor=request.user,
            name=name,
            number=version,
            labels=data["newLabels"],
            justification=_justification(request),
        )
        return _written(request, written, status.HTTP_200_OK)
