"""Database constraints and the immutability of versions."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from portal.errors import Conflict, Invalid
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from prompts.services import prompt_create
from teams.models import Membership, Namespace, Team
from teams.services import namespace_create, team_create
from tests.factories import MembershipFactory, TeamFactory, system_actor

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slug", ["support", "search-ranking", "a1", "x" * 63, "ab-"])
def test_valid_slugs_are_accepted(slug):
    team = team_create(actor=system_actor(), slug=slug, name="Team")

    assert Team.objects.get(pk=team.pk).slug == slug


@pytest.mark.parametrize(
    "slug", ["", "a", "1abc", "-abc", "Support", "has_underscore", "has space", "x" * 64, "é-team"]
)
def test_invalid_slugs_are_refused_with_a_field_error(slug):
    with pytest.raises(Invalid) as excinfo:
        team_create(actor=system_actor(), slug=slug, name="Team")

    assert "slug" in excinfo.value.errors
    assert not Team.objects.exists()


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Team, {"slug": "Bad_Slug", "name": "x"}),
        (Namespace, {"slug": "9lives", "visibility": "internal"}),
        (Prompt, {"name": "UPPER", "kind": "text", "state": "active"}),
    ],
)
def test_database_refuses_bad_slugs_that_bypass_validation(model, values):
    team = TeamFactory()
    if model is Namespace:
        values = {**values, "team": team}
    if model is Prompt:
        values = {
            **values,
            "namespace": namespace_create(actor=system_actor(), slug="fine", team=team),
        }

    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(**values)


def test_prompt_name_is_unique_per_namespace_but_not_across(namespace):
    other = namespace_create(actor=system_actor(), slug="other-ns", team=namespace.team)
    prompt_create(actor=system_actor(), namespace=namespace, name="greeting")
    prompt_create(actor=system_actor(), namespace=other, name="greeting")

    with pytest.raises(Invalid):
        prompt_create(actor=system_actor(), namespace=namespace, name="greeting")
    with pytest.raises(IntegrityError), transaction.atomic():
        Prompt.objects.create(namespace=namespace, name="greeting")
    assert Prompt.objects.filter(name="greeting").count() == 2


def test_version_number_is_unique_per_prompt_in_the_database(prompt, make_version):
    first = make_version(prompt)

    with pytest.raises(IntegrityError), transaction.atomic():
        PromptVersion.objects.create(
            prompt=prompt, number=1, template="x", author=first.author, sha256="0" * 64
        )


def test_one_membership_per_user_and_team():
    membership = MembershipFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(team=membership.team, user=membership.user, role="viewer")


def test_one_deployment_per_prompt_and_environment(prompt, make_version, environments):
    version = make_version(prompt)
    Deployment.objects.create(
        prompt=prompt,
        environment=environments["staging"],
        version=version,
        deployed_at="2026-01-01T00:00Z",
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(
            prompt=prompt,
            environment=environments["staging"],
            version=version,
            deployed_at="2026-01-02T00:00Z",
        )


def test_default_environments_exist_in_order():
    rows = list(
        Environment.objects.order_by("order").values_list(
            "slug", "requires_approval", "min_approvals", "protected"
        )
    )

    assert rows == [
        ("development", False, 0, False),
        ("staging", True, 1, False),
        ("production", True, 2, True),
    ]


def test_environment_approval_settings_must_agree():
    with pytest.raises(IntegrityError), transaction.atomic():
        Environment.objects.create(
            slug="canary", name="Canary", order=25, requires_approval=True, min_approvals=0
        )


class TestVersionsAreImmutable:
    def test_saving_an_existing_version_is_refused(self, prompt, make_version):
        version = make_version(prompt, text="Original {{name}}")
        version.template = "Changed {{name}}"

        with pytest.raises(Conflict):
            version.save()

        assert PromptVersion.objects.get(pk=version.pk).template == "Original {{name}}"

    def test_deleting_a_version_is_refused(self, prompt, make_version):
        version = make_version(prompt)

        with pytest.raises(Conflict):
            version.delete()
        with pytest.raises(Conflict):
            PromptVersion.objects.filter(pk=version.pk).delete()

        assert PromptVersion.objects.filter(pk=version.pk).exists()

    def test_bulk_updates_are_refused(self, prompt, make_version):
        version = make_version(prompt)

        with pytest.raises(Conflict):
            PromptVersion.objects.filter(pk=version.pk).update(template="sneaky")
        with pytest.raises(Conflict), transaction.atomic():
            PromptVersion.objects.bulk_update([version], ["template"])

        assert PromptVersion.objects.get(pk=version.pk).template == "Hello {{name}}"

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE prompts_promptversion SET template = 'sneaky' WHERE id = %s",
            "DELETE FROM prompts_promptversion WHERE id = %s",
        ],
    )
    def test_postgresql_trigger_refuses_raw_sql(self, prompt, make_version, statement):
        version = make_version(prompt)

        with (
            pytest.raises(DatabaseError, match="Cannot update or delete"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [version.pk])

        assert PromptVersion.objects.get(pk=version.pk).template == "Hello {{name}}"

    def test_a_prompt_with_versions_cannot_be_deleted(self, prompt, make_version):
        make_version(prompt)

        with pytest.raises(Exception, match="protected"):
            prompt.delete()
        assert PromptVersion.objects.filter(prompt=prompt).count() == 1


def test_history_is_recorded_for_governed_models(prompt, make_version, environments, author):
    from prompts.services import deployment_set
    from teams.services import membership_set

    membership_set(actor=system_actor(), team=prompt.namespace.team, user=author, role="viewer")
    membership_set(actor=system_actor(), team=prompt.namespace.team, user=author, role="owner")
    first, second = make_version(prompt), make_version(prompt, text="Hi {{name}}")
    deployment_set(
        action="deployment.seeded",
        prompt=prompt,
        environment=environments["staging"],
        version=first,
        actor=author,
    )
    deployment_set(
        action="deployment.seeded",
        prompt=prompt,
        environment=environments["staging"],
        version=second,
        actor=author,
    )

    deployment = Deployment.objects.get(prompt=prompt, environment=environments["staging"])
    assert [h.version_id for h in deployment.history.order_by("history_date")] == [
        first.pk,
        second.pk,
    ]
    membership = Membership.objects.get(team=prompt.namespace.team, user=author)
    assert [h.role for h in membership.history.order_by("history_date")] == [
        "maintainer",
        "viewer",
        "owner",
    ]
    assert Prompt.history.filter(id=prompt.pk).exists()
