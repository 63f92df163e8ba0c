import factory
from django.contrib.auth import get_user_model

from prompts.models import Prompt
from teams.models import Membership, Namespace, Team


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


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MAINTAINER


class NamespaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Namespace

    slug = factory.Sequence(lambda n: f"ns-{n}")
    team = factory.SubFactory(TeamFactory)
    visibility = Namespace.Visibility.INTERNAL


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prompt

    namespace = factory.SubFactory(NamespaceFactory)
    name = factory.Sequence(lambda n: f"prompt-{n}")
    kind = Prompt.Kind.TEXT
