import django_filters
from django.db.models import QuerySet

from prompts import catalog
from prompts.models import Prompt


class PromptFilter(django_filters.FilterSet):
    """The prompt list's filters, the same in the API and on the portal's home page."""

    namespace = django_filters.CharFilter(field_name="namespace__slug")
    team = django_filters.CharFilter(field_name="namespace__team__slug")
    state = django_filters.ChoiceFilter(choices=Prompt.State.choices)
    kind = django_filters.ChoiceFilter(choices=Prompt.Kind.choices)
    tag = django_filters.CharFilter(field_name="tags__slug", distinct=True)
    environment = django_filters.CharFilter(
        method="running_in", label="Runs some version in this environment (slug)"
    )
    q = django_filters.CharFilter(
        method="search",
        label="Search name, namespace, description, tags, and the template text, messages "
        "and model of the newest and the deployed versions",
    )

    class Meta:
        model = Prompt
        fields = ["namespace", "team", "state", "kind", "tag", "environment", "q"]

    def running_in(self, queryset: QuerySet[Prompt], name: str, value: str) -> QuerySet[Prompt]:
        return catalog.running_in(queryset, value)

    def search(self, queryset: QuerySet[Prompt], name: str, value: str) -> QuerySet[Prompt]:
        return catalog.search(queryset, value)
