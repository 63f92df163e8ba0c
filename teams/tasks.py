import datetime as dt

from celery import shared_task

from teams.models import ApiToken


@shared_task(ignore_result=True)
def token_mark_used(token_id: str, at: str) -> None:
    """Record a token's last use. Idempotent: never moves `last_used_at` backwards."""
    moment = dt.datetime.fromisoformat(at)
    ApiToken.objects.filter(pk=token_id).exclude(last_used_at__gte=moment).update(
        last_used_at=moment
    )
