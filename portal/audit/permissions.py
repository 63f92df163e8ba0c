"""Who reads the audit log: staff and members of the `auditors` group (a migration creates it;
membership changes through `teams.services.user_update`, audited)."""

from portal.principals import Principal, is_namespace_limited, is_user

AUDITORS_GROUP = "auditors"


def can_read_audit(user: Principal) -> bool:
    """The log spans every namespace: not through a token limited to some of them."""
    return (
        is_user(user)
        and not is_namespace_limited(user)
        and (user.is_staff or user.groups.filter(name=AUDITORS_GROUP).exists())
    )
