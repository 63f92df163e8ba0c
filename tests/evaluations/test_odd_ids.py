"""Ids from query strings and bodies that Python calls digits but are not ("²"), or that do
not fit a database integer, are refused or ignored: never a 500."""

import pytest

from portal.errors import Conflict
from prompts.evaluations import runs, suites
from prompts.evaluations.models import Model, Suite
from prompts.models import Prompt
from prompts.services import version_create
from tests.api.conftest import personal_client
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

ODD = ("²", "٣", "9" * 30)


@pytest.fixture
def maintainer():
    namespace = NamespaceFactory(slug="shop")
    PromptFactory(namespace=namespace, name="greet")
    user = UserFactory(username="mae")
    MembershipFactory(team=namespace.team, user=user, role="maintainer")
    return user


@pytest.mark.parametrize("odd", ODD)
def test_odd_ids_never_answer_500(client, maintainer, odd):
    api = personal_client(maintainer)
    client.force_login(maintainer)
    answers = [
        api.post(
            "/api/v1/evaluations/",
            {"prompt": "shop/greet", "version": 1, "suite": odd, "model": "local"},
            format="json",
        ),
        api.get("/api/v1/evaluations/", {"suite": odd}),
        api.get("/api/v1/prompts/shop/greet/evaluations/matrix/", {"suite": odd}),
        client.get("/evaluations/compare/", {"a": odd, "b": odd}),
        client.get("/prompts/shop/greet/playground/", {"call": odd}),
    ]
    assert [a.status_code for a in answers if a.status_code >= 500] == []


def test_cases_do_not_change_under_a_run_in_flight(maintainer):
    """A queued run reads its suite's cases when it starts: until it has finished, the cases
    stay as they are (otherwise the run could never count them all)."""
    prompt = Prompt.objects.get(name="greet")
    version = version_create(prompt=prompt, author=maintainer, template="Hi", variables=[])
    suite = Suite.objects.create(prompt=prompt, name="smoke", created_by=maintainer)
    case = suite.cases.create(position=1, variables={}, assertions=[])
    run = runs.run_create(  # queued: this test's transaction never commits, so it never runs
        actor=maintainer,
        prompt=prompt,
        version=version,
        suite=suite,
        model=Model.objects.get(name="local"),
    )
    assert run.state == "queued"

    with pytest.raises(Conflict):
        suites.case_delete(actor=maintainer, case=case)
    with pytest.raises(Conflict):
        suites.case_create(
            actor=maintainer, suite=suite, data=suites.CaseInput(variables={}, assertions=[])
        )
    assert suite.cases.count() == 1
