"""Factories that go through the services, so groups and object permissions are real."""

import factory
from django.contrib.auth import get_user_model

from prompts.models import Prompt
from prompts.services import prompt_create
from teams.models import Membership, Namespace, Team
from teams.services import membership_set, namespace_create, team_create


def system_actor():
    """A superuser that stands for set-up steps (an admin doing the configuration)."""
    user, _ = get_user_model().objects.get_or_create(
        username="setup-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    return user


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "secret-pass-123")

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda team: team.slug.replace("-", " ").title())

    @classmethod
    def _create(cls, model_class, **kwargs):
        return team_create(actor=system_actor(), **kwargs)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MAINTAINER

    @classmethod
    def _create(cls, model_class, **kwargs):
        return membership_set(actor=system_actor(), **kwargs)


class NamespaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Namespace

    slug = factory.Sequence(lambda n: f"ns-{n}")
    team = factory.SubFactory(TeamFactory)
    visibility = Namespace.Visibility.INTERNAL

    @classmethod
    def _create(cls, model_class, **kwargs):
        return namespace_create(actor=system_actor(), **kwargs)


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prompt

    namespace = factory.SubFactory(NamespaceFactory)
    name = factory.Sequence(lambda n: f"prompt-{n}")
    kind = Prompt.Kind.TEXT

    @classmethod
    def _create(cls, model_class, **kwargs):
        tags = kwargs.pop("tags", ())
        return prompt_create(actor=system_actor(), tags=tags, **kwargs)
