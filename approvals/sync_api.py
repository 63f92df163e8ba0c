"""POST /api/v1/sync/: prompts as code. A folder's files (path and text) in, the per-file
report out (200 whatever the files hold; a malformed request is a 400 problem, a request
beyond the limits a 413, an unknown environment or a promotion without justification 422).
A scoped token needs `read` for a dry run (teams.scopes' table: pull-request CI needs no
write-capable secret), `versions:write` for a real sync and, with `promote`, also
`promotions:request`."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.sync import SyncFile, prompts_sync
from approvals.sync.files import MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES
from portal.api.problems import flatten_errors
from portal.api.schema import request_example
from portal.errors import ErrorCode, Invalid
from teams.authentication import require_scope
from teams.scopes import PROMOTIONS_REQUEST, VERSIONS_WRITE

EXAMPLE_FILE = """namespace: support
name: refund-reply
kind: text
description: Answers a refund request.
tags: [billing]
template_format: mustache
variables: [name]
model_config: {model: gpt-4o-mini, temperature: 0.2}
template: "Hello {{name}}, your refund is on its way."
message: A shorter greeting
"""


class MalformedRequest(exceptions.APIException):
    """400 problem naming each bad field (the body is not a sync request at all)."""

    status_code = 400
    default_code = ErrorCode.BAD_REQUEST

    def __init__(self, errors: dict[str, list[str]]) -> None:
        field, messages = next(iter(errors.items()))
        super().__init__(f"{field}: {messages[0]}")
        self.extensions = {"errors": errors}


class TooLarge(exceptions.APIException):
    status_code = 413
    default_code = ErrorCode.TOO_LARGE


class SyncFileSerializer(serializers.Serializer):
    path = serializers.CharField(
        max_length=255, help_text="Relative to the folder: support/refund-reply.yaml."
    )
    content = serializers.CharField(
        trim_whitespace=False, allow_blank=True, help_text="The file's text (UTF-8)."
    )
    not_utf8 = serializers.BooleanField(
        default=False,
        help_text="The file's bytes are not UTF-8 text (send an empty content): it is reported "
        "invalid, and so is a prompt file naming it as a suite.",
    )


class SyncRequestSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=SyncFileSerializer(),
        allow_empty=True,
        help_text=f"Prompt files and the promptfoo files they name; at most {MAX_FILES} files, "
        f"{MAX_FILE_BYTES} bytes of text each, {MAX_TOTAL_BYTES} in all, and the JSON body at "
        f"most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
    )
    dry_run = serializers.BooleanField(default=False, help_text="Report the plan, change nothing.")
    promote = serializers.SlugField(
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="Open promotion requests for this environment.",
    )
    justification = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Required with promote."
    )


class SuiteResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged"])
    cases = serializers.IntegerField()
    warnings = serializers.ListField(child=serializers.DictField())


class FileResultSerializer(serializers.Serializer):
    path = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "invalid"])
    prompt = serializers.CharField(allow_null=True, help_text='"namespace/name", once read.')
    version = serializers.IntegerField(
        allow_null=True, help_text="The newest version after the sync."
    )
    previous_version = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True, help_text="Of the file's content.")
    changes = serializers.ListField(
        child=serializers.CharField(), help_text="version, description, tags, suite <name>."
    )
    suites = SuiteResultSerializer(many=True)
    promotion = serializers.DictField(
        allow_null=True,
        help_text="environment, version, status (pending, applied, deployed, failed), opened, "
        "request, required_approvals; error and code when failed.",
    )
    code = serializers.CharField(allow_null=True, help_text="Why the file is invalid.")
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class SyncReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    promote = serializers.CharField(allow_null=True)
    ok = serializers.BooleanField(help_text="No invalid file and no failed promotion.")
    summary = serializers.DictField(child=serializers.IntegerField())
    results = FileResultSerializer(many=True)


class Sync(APIView):
    @extend_schema(
        request=SyncRequestSerializer,
        responses={200: SyncReportSerializer},
        examples=[
            request_example(
                "A dry run of one file",
                {
                    "files": [{"path": "support/refund-reply.yaml", "content": EXAMPLE_FILE}],
                    "dry_run": True,
                    "promote": None,
                    "justification": "",
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        files = request.data.get("files") if isinstance(request.data, dict) else None
        if isinstance(files, list) and len(files) > MAX_FILES:
            raise TooLarge(f"At most {MAX_FILES} files per sync; got {len(files)}.")
        serializer = SyncRequestSerializer(data=request.data)
        if not serializer.is_valid():
            raise MalformedRequest(flatten_errors(serializer.errors))
        data = serializer.validated_data
        if not data["dry_run"]:
            require_scope(request, VERSIONS_WRITE)  # the endpoint itself: read (a dry run)
        if data["promote"]:
            require_scope(request, PROMOTIONS_REQUEST)
        files = [
            SyncFile(
                path=f["path"],
                content="" if f["not_utf8"] else f["content"],
                not_utf8=f["not_utf8"],
            )
            for f in data["files"]
        ]
        try:
            report = prompts_sync(
                actor=request.user,
                files=files,
                dry_run=data["dry_run"],
                promote=data["promote"] or None,
                justification=data["justification"],
            )
        except Invalid as exc:
            if exc.code == ErrorCode.TOO_LARGE:
                raise TooLarge(exc.detail) from exc
            if any(field.startswith(("files", "path")) for field in exc.errors):
                raise MalformedRequest(exc.errors) from exc
            raise
        return Response(report.as_dict())
