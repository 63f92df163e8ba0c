"""Builders for the schedule, regression and matrix tests (engineer D's files): a team's
prompt with versions, deployments, suites of cases, echo models; runs executed in-process
(the Celery task's body, as the eager worker would)."""

from typing import Any

from prompts.evaluations import runs
from prompts.evaluations.models import Case, Model, Run, Suite
from prompts.models import Environment, Prompt, PromptVersion
from prompts.services import deployment_set, version_create
from teams.models import Team
from tests.factories import NamespaceFactory, PromptFactory, system_actor


def prompt_with_versions(
    *, team: Team, namespace: str, name: str, versions: list[tuple[str, dict]]
) -> tuple[Prompt, list[PromptVersion]]:
    """A prompt of `team` with versions (template, model_config), variables `name`."""
    ns = NamespaceFactory(slug=namespace, team=team, visibility="private")
    prompt = PromptFactory(namespace=ns, name=name)
    author = system_actor()
    made = [
        version_create(
            prompt=prompt,
            author=author,
            template=template,
            variables=["name"],
            model_config=config,
        )
        for template, config in versions
    ]
    return prompt, made


def deploy(prompt: Prompt, version: PromptVersion, environment: str = "production") -> None:
    deployment_set(
        prompt=prompt,
        environment=Environment.objects.get(slug=environment),
        version=version,
        actor=system_actor(),
        action="prompt.deployed",
    )


def suite(prompt: Prompt, name: str, cases: list[tuple[dict, list[dict]]], **extra: Any) -> Suite:
    made = Suite.objects.create(prompt=prompt, name=name, created_by=system_actor(), **extra)
    for position, (variables, assertions) in enumerate(cases, start=1):
        Case.objects.create(
            suite=made,
            position=position,
            description=f"case {position}",
            variables=variables,
            assertions=assertions,
        )
    return made


def echo_model(name: str, family: str = "") -> Model:
    return Model.objects.create(name=name, family=family, provider=Model.Provider.ECHO)


def execute(run: Run) -> Run:
    """The Celery task's body, here and now."""
    runs.run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def run_now(*, prompt: Prompt, version: PromptVersion, suite: Suite, model: Model) -> Run:
    run = runs.run_create(actor=None, prompt=prompt, version=version, suite=suite, model=model)
    return execute(run)


def started(runs_: list[Run]) -> set[tuple[str, int, str]]:
    return {(r.suite.name, r.version.number, r.model.name) for r in runs_}
