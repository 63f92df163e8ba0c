"""API of the evaluation gate: `GET /prompts/{ns}/{name}/versions/{n}/gate/?environment=`
(per suite: missing, running, stale, failing or passing on the version's model) and `POST`
the same path `{"environment"}` (start what is missing, trigger "gate"; 202). Readers of the
prompt read; people who may edit its prompts start runs; a private namespace is 404 to
anyone else."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.permissions import IsPersonOrServiceReading
from portal.api.views import parse
from portal.errors import Invalid
from prompts.evaluations.gate import gate_state
from prompts.evaluations.gate_runs import gate_run_missing
from prompts.models import Environment
from prompts.selectors import prompt_get, prompt_version_get
from teams.permissions import can_edit_prompts, require


class GateRunSerializer(serializers.Serializer):
    environment = serializers.SlugField(max_length=64, default="production")


def _environment(slug: str) -> Environment:
    environment = Environment.objects.filter(slug=slug).first()
    if environment is None:
        raise Invalid.field("environment", f"No environment {slug!r}.")
    return environment


class VersionGate(APIView):
    permission_classes = [IsPersonOrServiceReading]

    @extend_schema(
        parameters=[OpenApiParameter("environment", str, description="Default production.")],
        responses={200: dict},
        description="The gate's state for this version in the environment: `required`, "
        "`passed`, the `model` it is judged on and per suite its `state` and last `run`.",
    )
    def get(self, request: Request, namespace: str, name: str, number: int) -> Response:
        prompt = prompt_get(user=request.user, namespace=namespace, name=name)
        version = prompt_version_get(prompt=prompt, number=number)
        slug = request.query_params.get("environment") or "production"
        state = gate_state(prompt=prompt, version=version, environment=_environment(slug))
        return Response(state.as_json())

    @extend_schema(
        request=GateRunSerializer,
        responses={202: dict},
        description="Start a run (trigger `gate`) of every suite the gate still waits for "
        "and that is not running; answers the runs started and the gate's state.",
    )
    def post(self, request: Request, namespace: str, name: str, number: int) -> Response:
        prompt = prompt_get(user=request.user, namespace=namespace, name=name)
        version = prompt_version_get(prompt=prompt, number=number)
        require(
            can_edit_prompts(request.user, prompt.namespace),
            f"Only people who may edit the prompts of {prompt.namespace.slug} run evaluations.",
        )
        environment = _environment(parse(GateRunSerializer, request)["environment"])
        started = gate_run_missing(
            actor=request.user, prompt=prompt, version=version, environment=environment
        )
        state = gate_state(prompt=prompt, version=version, environment=environment)
        body = {
            "runs": [
                {"id": run.pk, "suite": run.suite.name, "state": run.state} for run in started
            ],
            "gate": state.as_json(),
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)
