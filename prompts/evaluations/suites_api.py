"""API of evaluation suites under /prompts/{ns}/{name}/suites/: list, create, read, change,
delete (409 once it has runs), cases, promptfoo / JSON Lines import and export.
The prompt's readers read (service tokens too); maintainers and owners write."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.permissions import IsPersonOrServiceReading
from portal.api.schema import request_example
from portal.api.views import parse, parse_query
from prompts.evaluations import promptfoo, suites
from prompts.evaluations import suite_selectors as selectors
from prompts.evaluations import suites_serializers as s
from prompts.evaluations.models import Suite
from prompts.models import Prompt
from prompts.selectors import prompt_get

EXPORT_TYPES = {"promptfoo": "application/yaml", "jsonl": "application/jsonl"}
EXPORT_SUFFIX = {"promptfoo": "yaml", "jsonl": "jsonl"}


class SuiteScoped:
    """The prompt must be visible to the caller (else 404), and the suite one of its own."""

    permission_classes = [IsPersonOrServiceReading]

    def prompt(self) -> Prompt:
        return prompt_get(
            user=self.request.user, namespace=self.kwargs["namespace"], name=self.kwargs["name"]
        )

    def suite(self) -> Suite:
        return selectors.suite_get(prompt=self.prompt(), suite_id=self.kwargs["suite"])


def _detail(suite: Suite) -> dict:
    suite = selectors.suite_get(prompt=suite.prompt, suite_id=suite.pk)
    data = s.SuiteSerializer(suite).data
    data["cases"] = s.CaseSerializer(selectors.suite_cases(suite=suite), many=True).data
    return data


def _case_input(data: dict) -> suites.CaseInput:
    return suites.CaseInput(
        description=data.get("description", ""),
        variables=data.get("variables"),
        assertions=data.get("assertions"),
        threshold=data.get("threshold"),
    )


class SuiteListCreate(SuiteScoped, generics.ListAPIView):
    serializer_class = s.SuiteSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no prompt
            return Suite.objects.none()
        return selectors.suites_of(prompt=self.prompt())

    @extend_schema(
        request=s.SuiteCreateSerializer,
        responses={201: s.SuiteDetailSerializer},
        examples=[
            request_example(
                "A suite with one case",
                {
                    "name": "smoke",
                    "description": "The replies we promise",
                    "pass_threshold": 1.0,
                    "cases": [
                        {
                            "description": "greets by name",
                            "variables": {"name": "Ada"},
                            "assertions": [
                                {"type": "icontains", "value": "ada"},
                                {"type": "not-contains", "value": "sorry", "weight": 2},
                            ],
                        }
                    ],
                },
            )
        ],
    )
    def post(self, request: Request, namespace: str, name: str) -> Response:
        data = parse(s.SuiteCreateSerializer, request)
        suite = suites.suite_create(
            actor=request.user,
            prompt=self.prompt(),
            name=data["name"],
            description=data["description"],
            pass_threshold=data["pass_threshold"],
            cases=[_case_input(case) for case in data["cases"]],
        )
        return Response(_detail(suite), status=status.HTTP_201_CREATED)


class SuiteDetail(SuiteScoped, generics.GenericAPIView):
    serializer_class = s.SuiteDetailSerializer

    def get(self, request: Request, namespace: str, name: str, suite: int) -> Response:
        return Response(_detail(self.suite()))

    @extend_schema(request=s.SuiteUpdateSerializer, responses={200: s.SuiteDetailSerializer})
    def patch(self, request: Request, namespace: str, name: str, suite: int) -> Response:
        data = parse(s.SuiteUpdateSerializer, request)
        updated = suites.suite_update(actor=request.user, suite=self.suite(), **data)
        return Response(_detail(updated))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, namespace: str, name: str, suite: int) -> Response:
        suites.suite_delete(actor=request.user, suite=self.suite())
        return Response(status=status.HTTP_204_NO_CONTENT)


class CaseCreate(SuiteScoped, generics.GenericAPIView):
    serializer_class = s.CaseSerializer

    @extend_schema(request=s.CaseInputSerializer, responses={201: s.CaseSerializer})
    def post(self, request: Request, namespace: str, name: str, suite: int) -> Response:
        data = parse(s.CaseInputSerializer, request)
        case = suites.case_create(actor=request.user, suite=self.suite(), data=_case_input(data))
        return Response(s.CaseSerializer(case).data, status=status.HTTP_201_CREATED)


class CaseDetail(SuiteScoped, generics.GenericAPIView):
    serializer_class = s.CaseSerializer

    def case(self):
        return selectors.case_get(suite=self.suite(), case_id=self.kwargs["case"])

    def get(self, request: Request, namespace: str, name: str, suite: int, case: int) -> Response:
        return Response(s.CaseSerializer(self.case()).data)

    @extend_schema(request=s.CaseInputSerializer, responses={200: s.CaseSerializer})
    def patch(self, request: Request, namespace: str, name: str, suite: int, case: int) -> Response:
        existing = self.case()
        data = parse(s.CaseInputSerializer, request, partial=True)
        merged = {
            "description": existing.description,
            "variables": existing.variables,
            "assertions": existing.assertions,
            "threshold": existing.threshold,
            **{key: value for key, value in data.items() if key in request.data},
        }
        updated = suites.case_update(actor=request.user, case=existing, data=_case_input(merged))
        return Response(s.CaseSerializer(updated).data)

    @extend_schema(responses={204: None})
    def delete(
        self, request: Request, namespace: str, name: str, suite: int, case: int
    ) -> Response:
        suites.case_delete(actor=request.user, case=self.case())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SuiteImport(SuiteScoped, generics.GenericAPIView):
    serializer_class = s.SuiteImportResultSerializer

    @extend_schema(
        request=s.SuiteImportSerializer,
        responses={201: s.SuiteImportResultSerializer},
        examples=[
            request_example(
                "A promptfoo file",
                {
                    "name": "imported",
                    "format": "promptfoo",
                    "content": "defaultTest:\n  assert:\n    - type: not-contains\n"
                    "      value: sorry\ntests:\n  - vars: {name: Ada}\n    assert:\n"
                    "      - type: icontains\n        value: ada\n",
                },
            )
        ],
    )
    def post(self, request: Request, namespace: str, name: str) -> Response:
        data = parse(s.SuiteImportSerializer, request)
        result = suites.suite_import(actor=request.user, prompt=self.prompt(), **data)
        body = {"suite": _detail(result.suite), "warnings": result.warnings}
        return Response(body, status=status.HTTP_201_CREATED)


class SuiteExport(SuiteScoped, generics.GenericAPIView):
    serializer_class = s.ExportQuerySerializer

    @extend_schema(
        parameters=[s.ExportQuerySerializer],
        responses={
            (200, "application/yaml"): OpenApiResponse(  # a YAML document: a mapping
                OpenApiTypes.OBJECT, description="promptfoo YAML (`tests:`), re-importable"
            ),
            (200, "application/jsonl"): OpenApiResponse(
                OpenApiTypes.STR, description="JSON Lines, one case per line"
            ),
        },
    )
    def get(self, request: Request, namespace: str, name: str, suite: int) -> HttpResponse:
        chosen = parse_query(s.ExportQuerySerializer, request)["format"]
        found = self.suite()
        text = promptfoo.export(
            description=found.description or found.name,
            cases=selectors.suite_cases(suite=found),
            format=chosen,
        )
        response = HttpResponse(text, content_type=f"{EXPORT_TYPES[chosen]}; charset=utf-8")
        filename = f"{found.prompt.name}-{found.name}.{EXPORT_SUFFIX[chosen]}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
