"""What a webhook receiver runs to trust a delivery: the exact code the README shows."""

import hashlib
import hmac
import time

TOLERANCE_SECONDS = 300  # 5 minutes


def verify(
    secret: str, body: bytes, timestamp: str, signature: str, now: float | None = None
) -> bool:
    """True when `signature` (the X-Portal-Signature header) is ours for this body and
    timestamp (X-Portal-Timestamp), and the timestamp is at most 5 minutes away from now."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent_at) > TOLERANCE_SECONDS:
        return False  # too old (or from the future): a replay
    expected = hmac.new(secret.encode(), f"{sent_at}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(f"sha256={expected.hexdigest()}", signature)
