"""Sign-in lockout (django-axes, configured in settings): every lockout is audited; staff see
the current lockouts on the People page and may lift one (teams.services.lockout_lift)."""

from axes.signals import user_locked_out
from django.dispatch import receiver

from portal.audit.services import audit

MAX_USERNAME = 150


@receiver(user_locked_out, dispatch_uid="teams.audit_lockout")
def audit_lockout(sender, request, username: str | None, ip_address: str | None, **kwargs):
    """Audit the failure that locks the pair out. axes signals every refused attempt after it
    too; those record no failure (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is off), and
    auditing them would let anyone grow the log at will."""
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    audit(
        actor=None,
        action="login.locked_out",
        object_type="user",
        object_id=(username or "")[:MAX_USERNAME],
        after={"address": ip_address or ""},
    )
