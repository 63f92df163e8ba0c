"""Two deprecations naming each other as successor, at the same moment, on real PostgreSQL
connections: one wins, the other is refused, and no cycle is left."""

import datetime as dt

import pytest
from django.utils import timezone

from portal.errors import Invalid
from prompts.lifecycle import prompt_deprecate
from prompts.models import Prompt
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory
from tests.test_write_races import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_crossed_deprecations_never_make_a_cycle():
    namespace = NamespaceFactory()
    maintainer = UserFactory()
    MembershipFactory(team=namespace.team, user=maintainer, role="maintainer")
    sunset = timezone.now() + dt.timedelta(days=30)
    for round_number in range(8):
        a = PromptFactory(namespace=namespace, name=f"a-{round_number}")
        b = PromptFactory(namespace=namespace, name=f"b-{round_number}")

        def deprecate(prompt, successor):
            return lambda: prompt_deprecate(
                actor=maintainer,
                prompt=prompt,
                reason="moved",
                sunset_at=sunset,
                successor=successor,
            )

        results = run_together(deprecate(a, b), deprecate(b, a))

        refused = [result for result in results if isinstance(result, Exception)]
        assert len(refused) == 1, results
        assert isinstance(refused[0], Invalid)
        successors = dict(
            Prompt.objects.filter(pk__in=[a.pk, b.pk]).values_list("pk", "successor_id")
        )
        assert not (successors[a.pk] == b.pk and successors[b.pk] == a.pk)
