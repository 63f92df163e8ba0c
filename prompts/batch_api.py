"""POST /resolve/batch/: the client SDK's revalidation of every prompt it caches, in one request.

Parsing is pydantic (a batch of a thousand entries costs well under a millisecond; the DRF
serializers here only document it), and the answer is assembled from the cached answers' JSON
bytes as they are, never parsed again.
"""

import json
from typing import Annotated, Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from portal.api.permissions import IsPersonOrService
from portal.api.problems import problem_body
from portal.errors import Invalid
from portal.validators import SLUG_PATTERN
from prompts.resolve import batch
from prompts.serializers import ResolvedSerializer

SLUG = SLUG_PATTERN.removeprefix("^").removesuffix("$")
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=63)]


class HeldIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: Annotated[str, Field(pattern=rf"^{SLUG}/{SLUG}$", max_length=127)]
    environment: Slug | None = None
    version: Annotated[StrictInt, Field(ge=1, le=2**31 - 1)] | None = None
    etag: Annotated[str, Field(max_length=100)] | None = None


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: Slug = "production"
    prompts: Annotated[list[HeldIn], Field(min_length=1, max_length=batch.MAX_PROMPTS)]


def _parse(body: Any) -> list[batch.Held]:
    try:
        parsed = BatchIn.model_validate(body)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for error in exc.errors(include_url=False, include_context=False, include_input=False):
            field = ".".join(str(part) for part in error["loc"]) or "non_field_errors"
            errors.setdefault(field, []).append(error["msg"])
        field, messages = next(iter(errors.items()))
        raise Invalid(f"{field}: {messages[0]}", errors=errors) from exc
    held = {}
    for item in parsed.prompts:
        namespace, _, name = item.prompt.partition("/")
        environment = item.environment or parsed.environment
        held[(namespace, name, environment, item.version)] = batch.Held(
            namespace=namespace,
            name=name,
            environment=environment,
            version=item.version,
            etag=item.etag,
        )
    return list(held.values())


def _dumps(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _changed_json(changed: batch.Changed) -> bytes:
    held = changed.held
    about = _dumps(
        {
            "prompt": f"{held.namespace}/{held.name}",
            "environment": held.environment,
            "version": held.version,
        }
    )[:-1]
    if changed.error is not None:
        error = changed.error
        problem = problem_body(
            status_code=error.status,
            code=error.code,
            detail=error.detail,
            extensions=error.extensions,
        )
        return about + b',"status":%d,"problem":%s}' % (error.status, _dumps(problem))
    entry = changed.entry
    headers = {k: v for k, v in entry["headers"].items() if k != "ETag"}
    experiment = entry.get("experiment")
    if experiment:
        arms = b",".join(
            b'{"arm":"%s","lo":%d,"hi":%d,"etag":%s,"answer":%s}'
            % (arm["arm"].encode(), arm["lo"], arm["hi"], _dumps(arm["etag"]), arm["body_json"])
            for arm in experiment["arms"]
        )
        answer, split = b"null", b'{"id":%d,"arms":[%s]}' % (experiment["id"], arms)
    else:
        answer, split = entry["body_json"], b"null"
    return about + b',"status":200,"etag":%s,"headers":%s,"answer":%s,"experiment":%s}' % (
        _dumps(batch.entry_etag(entry)),
        _dumps(headers),
        answer,
        split,
    )


_ARM_FIELDS = {
    "arm": serializers.CharField(),
    "lo": serializers.IntegerField(help_text="First bucket of the arm (0–9999)."),
    "hi": serializers.IntegerField(help_text="The bucket after the arm's last."),
    "etag": serializers.CharField(),
    "answer": ResolvedSerializer(),
}
_CHANGED_FIELDS = {
    "prompt": serializers.CharField(),
    "environment": serializers.CharField(),
    "version": serializers.IntegerField(allow_null=True),
    "status": serializers.IntegerField(help_text="200, or the status a resolve answers."),
    "etag": serializers.CharField(required=False, help_text="The entry's ETag to hold."),
    "headers": serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="Deprecation, Sunset and Link, as resolve sends them.",
    ),
    "answer": ResolvedSerializer(
        required=False, allow_null=True, help_text="Null while an experiment runs."
    ),
    "experiment": inline_serializer(
        "BatchExperiment",
        {
            "id": serializers.IntegerField(),
            "arms": inline_serializer("BatchArm", _ARM_FIELDS, many=True),
        },
        required=False,
        allow_null=True,
    ),
    "problem": serializers.JSONField(required=False, help_text="problem+json, on errors."),
}


_REQUEST = inline_serializer(
    "BatchRequest",
    {
        "environment": serializers.SlugField(default="production"),
        "prompts": inline_serializer(
            "BatchHeld",
            {
                "prompt": serializers.CharField(help_text="`namespace/name`"),
                "environment": serializers.SlugField(
                    required=False, allow_null=True, help_text="Default: the batch's."
                ),
                "version": serializers.IntegerField(
                    required=False, allow_null=True, min_value=1, help_text="A pinned version."
                ),
                "etag": serializers.CharField(
                    required=False, allow_null=True, help_text="The entry ETag held, if any."
                ),
            },
            many=True,
        ),
    },
)


class ResolveBatch(APIView):
    permission_classes = [IsPersonOrService]

    @extend_schema(
        request=_REQUEST,
        responses={
            200: inline_serializer(
                "BatchResolved",
                {
                    "changed": inline_serializer("BatchChanged", _CHANGED_FIELDS, many=True),
                    "unchanged": serializers.IntegerField(),
                },
            )
        },
        description="The client SDK's revalidation, one request per interval: the prompts "
        "it holds with the entry ETags it holds; the answer lists only what changed (a new "
        "entry, or the problem that now answers: 404, 410). While an experiment runs, the "
        "entry holds every arm with its bucket range `[lo, hi)`: "
        "`int(sha256(f'{experiment_id}:{subject}').hexdigest(), 16) % 10000` picks the arm.",
    )
    def post(self, request: Request) -> HttpResponse:
        held = _parse(request.data)
        changed, unchanged = batch.resolve_batch(user=request.user, held=held)
        body = b'{"changed":[%s],"unchanged":%d}' % (
            b",".join(_changed_json(item) for item in changed),
            unchanged,
        )
        response = HttpResponse(body, content_type="application/json")
        response["Cache-Control"] = "no-store"
        return response
