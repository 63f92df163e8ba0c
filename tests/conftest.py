import importlib

import pytest
from celery import _state as celery_state
from django.core.cache import cache

from portal.cache import breaker, broker_breaker
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
    """Each test starts with an empty Redis cache (token lookups, failure counters) and a
    closed breaker (a fault test may have opened it)."""
    breaker.close()
    broker_breaker.close()
    cache.clear()
    yield
    breaker.close()
    broker_breaker.close()
    cache.clear()


@pytest.fixture(autouse=True)
def _data_migration_rows(request):
    """Transactional tests (browser, concurrency) end by flushing every table, the rows that
    data migrations created included. Put those rows back before each such test, and before
    any other database test that finds them gone: under pytest-xdist a worker's files come in
    any order, so a flushed database can precede ordinary tests (their copy is rolled back
    with them)."""
    marker = request.node.get_closest_marker("django_db")
    if not marker:
        return
    if not marker.kwargs.get("transaction"):
        request.getfixturevalue("db")
        if Environment.objects.exists():
            return
    else:
        request.getfixturevalue("transactional_db")
    from django.apps import apps

    for module in (
        "prompts.migrations.0002_default_environments",
        "portal.audit.migrations.0002_auditors_group_and_chain_head",
        "prompts.migrations.0006_stale_beat_schedules",
        "prompts.metrics.migrations.0002_beat_schedules",
        "prompts.evaluations.migrations.0002_local_model",
        "prompts.evaluations.migrations.0003_nightly_beat_schedule",
    ):
        migration = importlib.import_module(module)
        forwards = getattr(migration, "create_environments", None) or migration.forwards
        forwards(apps, None)


@pytest.fixture(autouse=True)
def _celery_may_wait_for_results():
    """Eager tasks run in threads at once (concurrency tests) race on Celery's process-global
    "inside a task" flag and can leave it set, after which any `result.get()` refuses to wait.
    Each test starts with it cleared."""
    celery_state._set_task_join_will_block(False)
    yield
    celery_state._set_task_join_will_block(False)
