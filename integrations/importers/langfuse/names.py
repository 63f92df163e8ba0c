"""Langfuse prompt names → our `namespace/name`.

A Langfuse folder is a namespace: `support/refund-reply` is namespace `support`, prompt
`refund-reply`; a name without a folder goes to the default namespace. Deeper folders join the
prompt's name (`support/email/refund` → `support/email-refund`). Langfuse allows names our
slugs do not (`Refund_Reply`, spaces, accents): each part is slugified (lowercase ASCII,
runs of anything else become one hyphen) and the import prints the mapping. A part that still
is no slug (empty, starting with a digit, too long), or two source names landing on one
target, is refused and reported: never guessed further.
"""

import re
from collections import Counter

from django.utils.text import slugify

from portal.validators import SLUG_HELP

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,62}$")


class UnmappableName(ValueError):
    """A Langfuse name with no place in our namespaces."""


def slug(part: str) -> str:
    return re.sub(r"-{2,}", "-", slugify(part).replace("_", "-")).strip("-")


def target_name(source: str, default_namespace: str | None) -> tuple[str, str]:
    """(namespace, name) for a Langfuse prompt name; UnmappableName says why there is none."""
    folder, _, rest = source.strip("/").partition("/")
    if not rest:
        if not default_namespace:
            raise UnmappableName(f"{source!r} has no folder: give --namespace for such prompts.")
        folder, rest = default_namespace, folder
    namespace, name = slug(folder), slug("-".join(rest.split("/")))
    for kind, original, candidate in (("namespace", folder, namespace), ("name", rest, name)):
        if not SLUG.match(candidate):
            raise UnmappableName(
                f"{original!r} cannot become a {kind} slug ({candidate!r} is not one: {SLUG_HELP})"
            )
    return namespace, name


def target_names(
    sources: list[str], default_namespace: str | None
) -> dict[str, tuple[str, str] | str]:
    """Each source name's (namespace, name), or the reason it has none (a collision
    included: both names are refused, so the import never merges two prompts by accident)."""
    mapped: dict[str, tuple[str, str] | str] = {}
    for source in sources:
        try:
            mapped[source] = target_name(source, default_namespace)
        except UnmappableName as exc:
            mapped[source] = str(exc)
    taken = Counter(target for target in mapped.values() if isinstance(target, tuple))
    collisions = {
        source: sorted(other for other, t in mapped.items() if t == target and other != source)
        for source, target in mapped.items()
        if isinstance(target, tuple) and taken[target] > 1
    }
    for source, others in collisions.items():
        namespace, name = mapped[source]
        mapped[source] = (
            f"{source!r} and {', '.join(map(repr, others))} would both become "
            f"{namespace}/{name}: rename one in Langfuse first."
        )
    return mapped
