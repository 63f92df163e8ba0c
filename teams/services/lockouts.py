"""Sign-in lockouts (django-axes keeps the attempts): staff lift one before it runs out."""

import ipaddress

from axes.utils import reset as axes_reset

from portal.audit.services import audit
from portal.errors import Invalid, NotFound
from portal.transactions import atomic_write
from teams import permissions
from teams.permissions import Principal, require


@atomic_write
def lockout_lift(*, actor: Principal, username: str, ip_address: str) -> int:
    """Staff let `username` sign in from `ip_address` again before the lockout runs out."""
    require(permissions.is_staff(actor), "Only staff lift sign-in lockouts.")
    username = (username or "").strip()
    if not username:
        raise Invalid.field("username", "Name the username whose lockout to lift.")
    try:
        ip_address = str(ipaddress.ip_address((ip_address or "").strip()))
    except ValueError as exc:
        raise Invalid.field("ip_address", "Give the address the lockout is for.") from exc
    lifted = axes_reset(ip=ip_address, username=username)  # exactly this pair
    if not lifted:
        raise NotFound(f"No lockout of {username} from {ip_address}.")
    audit(
        actor=actor,
        action="login.lockout_lifted",
        object_type="user",
        object_id=username,
        before={"address": ip_address},
    )
    return lifted
