"""Two writers creating versions of one prompt at the same moment, on two real connections."""

import threading

import pytest
from django.db import connection

from prompts.models import PromptVersion
from prompts.services import version_create
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 8


def test_concurrent_version_creates_get_distinct_consecutive_numbers():
    prompt = PromptFactory(namespace=NamespaceFactory())
    author = UserFactory()
    MembershipFactory(team=prompt.namespace.team, user=author, role="maintainer")
    barrier = threading.Barrier(WRITERS)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            version = version_create(
                prompt=prompt,
                author=author,
                template=f"Variant {index}: {{{{name}}}}",
                variables=["name"],
            )
            numbers.append(version.number)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(numbers) == list(range(1, WRITERS + 1))
    versions = list(PromptVersion.objects.filter(prompt=prompt).order_by("number"))
    assert [v.number for v in versions] == list(range(1, WRITERS + 1))
    assert [v.parent_id for v in versions] == [None, *[v.pk for v in versions[:-1]]]
