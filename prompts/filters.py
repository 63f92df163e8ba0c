import django_filters
from django.db.models import Q

from prompts.models import Prompt


class PromptFilter(django_filters.FilterSet):
    namespace = django_filters.CharFilter(field_name="namespace__slug")
    team = django_filters.CharFilter(field_name="namespace__team__slug")
    state = django_filters.ChoiceFilter(choices=Prompt.State.choices)
    kind = django_filters.ChoiceFilter(choices=Prompt.Kind.choices)
    tag = django_filters.CharFilter(field_name="tags__slug", distinct=True)
    q = django_filters.CharFilter(method="search", label="Search name, namespace, description")

    class Meta:
        model = Prompt
        fields = ["namespace", "team", "state", "kind", "tag", "q"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value)
            | Q(namespace__slug__icontains=value)
            | Q(description__icontains=value)
        )
