"""Who is calling: a Django user (session or personal token), an anonymous visitor, or a
service token (`ServicePrincipal`), which reads the namespaces it was granted and writes
nothing. The kernel knows these shapes; `teams.permissions` decides what each may do."""

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@dataclass(frozen=True)
class ServicePrincipal:
    """The caller behind a service token: reads its namespaces, writes nothing."""

    token_id: str
    prefix: str
    name: str
    namespace_ids: frozenset[int] = field(default_factory=frozenset)

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    @property
    def username(self) -> str:
        return f"service-token:{self.prefix}"

    def __str__(self) -> str:
        return f"service token {self.name!r} ({self.prefix})"

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False


Principal = AbstractBaseUser | AnonymousUser | ServicePrincipal


def is_user(principal: Principal | None) -> bool:
    """A signed-in, active person (not a service token, not anonymous)."""
    return (
        principal is not None
        and not isinstance(principal, ServicePrincipal)
        and principal.is_authenticated
        and principal.is_active
    )


def is_namespace_limited(principal: Principal | None) -> bool:
    """A person calling through a token limited to namespaces (its authentication sets
    `token_namespace_ids` on the user for the request): no organisation-wide powers."""
    return getattr(principal, "token_namespace_ids", None) is not None


def is_staff(principal: Principal | None) -> bool:
    return is_user(principal) and principal.is_staff and not is_namespace_limited(principal)
