"""The events a notification may be about. `notify` refuses any other name; a webhook
subscribes to a subset of them (none listed: all)."""

PROMOTION_REQUESTED = "promotion.requested"
PROMOTION_APPROVED = "promotion.approved"
PROMOTION_REJECTED = "promotion.rejected"
PROMOTION_APPLIED = "promotion.applied"
PROMOTION_EXPIRED = "promotion.expired"
PROMOTION_CANCELLED = "promotion.cancelled"
PROMOTION_SUPERSEDED = "promotion.superseded"
ROLLBACK = "deployment.rolled_back"
PROMPT_DEPRECATED = "prompt.deprecated"
PROMPT_RETIRED = "prompt.retired"
PROMPT_REACTIVATED = "prompt.reactivated"
STALE_DIGEST = "stale.digest"
EXPERIMENT_STARTED = "experiment.started"
EXPERIMENT_STOPPED = "experiment.stopped"
EXPERIMENT_GUARDRAIL = "experiment.guardrail_breached"
EVALUATION_REGRESSED = "evaluation.regressed"
WEBHOOK_DISABLED = "webhook.disabled"
WEBHOOK_TEST = "webhook.test"

EVENTS: tuple[tuple[str, str], ...] = (
    (PROMOTION_REQUESTED, "Promotion requested"),
    (PROMOTION_APPROVED, "Promotion approved"),
    (PROMOTION_REJECTED, "Promotion rejected"),
    (PROMOTION_APPLIED, "Promotion applied"),
    (PROMOTION_EXPIRED, "Promotion expired"),
    (PROMOTION_CANCELLED, "Promotion cancelled"),
    (PROMOTION_SUPERSEDED, "Promotion superseded"),
    (ROLLBACK, "Deployment rolled back"),
    (PROMPT_DEPRECATED, "Prompt deprecated"),
    (PROMPT_RETIRED, "Prompt retired"),
    (PROMPT_REACTIVATED, "Prompt reactivated"),
    (STALE_DIGEST, "Stale prompts digest"),
    (EXPERIMENT_STARTED, "Experiment started"),
    (EXPERIMENT_STOPPED, "Experiment stopped"),
    (EXPERIMENT_GUARDRAIL, "Experiment stopped by a guardrail"),
    (EVALUATION_REGRESSED, "Evaluation regressed"),
    (WEBHOOK_DISABLED, "Webhook disabled"),
    (WEBHOOK_TEST, "Webhook test"),
)
EVENT_NAMES = frozenset(name for name, _ in EVENTS)
LABELS = dict(EVENTS)


def check_event(event: str) -> str:
    if event not in EVENT_NAMES:
        raise ValueError(
            f"Unknown notification event {event!r}; see teams/notifications/events.py."
        )
    return event
