from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from approvals import permissions, stale
        from approvals.services import gate, sweeps
        from prompts.evaluations import hooks as evaluation_hooks
        from prompts.stale import digest_findings
        from teams import hooks

        hooks.namespace_readers.register(permissions.reviewed_namespaces)
        hooks.access_gained.register(sweeps.access_gained)
        hooks.promotion_right.register(permissions.holds_promotion_right)
        digest_findings.register(stale.pending_request_findings)
        evaluation_hooks.run_finished.register(gate.run_finished)
