import pytest

from prompts.models import Environment
from prompts.services import version_create
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory


@pytest.fixture
def namespace(db):
    return NamespaceFactory(slug="support")


@pytest.fixture
def author(namespace):
    """A maintainer of the `namespace` fixture's team: may write versions there."""
    user = UserFactory(username="author")
    MembershipFactory(team=namespace.team, user=user, role="maintainer")
    return user


@pytest.fixture
def staff(db):
    return UserFactory(username="staff-user", is_staff=True)


@pytest.fixture
def prompt(namespace):
    return PromptFactory(namespace=namespace, name="refund-reply")


@pytest.fixture
def make_version(author):
    """Create the next text version of a prompt whose template uses `variables`."""

    def make(prompt, text="Hello {{name}}", variables=("name",), **kwargs):
        return version_create(
            prompt=prompt,
            author=kwargs.pop("author", author),
            template=text,
            variables=list(variables),
            **kwargs,
        )

    return make


@pytest.fixture
def environments(db):
    return {env.slug: env for env in Environment.objects.order_by("order")}


@pytest.fixture
def member_of(db):
    """`member_of(namespace, role)` -> a new user holding that role in the namespace's team."""

    def make(namespace, role="maintainer", **user_kwargs):
        user = UserFactory(**user_kwargs)
        MembershipFactory(team=namespace.team, user=user, role=role)
        return user

    return make


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty Redis cache (token lookups, failure counters)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
