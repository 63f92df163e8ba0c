import datetime as dt

from celery import shared_task

from teams import tokens


@shared_task(ignore_result=True)
def token_mark_used(token_id: str, at: str) -> None:
    """Record a token's last use. Idempotent: never moves `last_used_at` backwards."""
    tokens.token_mark_used(token_id=token_id, at=dt.datetime.fromisoformat(at))
