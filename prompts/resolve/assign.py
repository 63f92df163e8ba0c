"""Sticky arm assignment: the contract the server and the client SDK both implement.

With a subject, `bucket = int(sha256(f"{experiment_id}:{subject}").hexdigest(), 16) % 10000`;
the arms, in label order (A, the control, first), take consecutive bucket ranges by weight:
weights 70/30 give A the buckets 0–6999 and B 7000–9999. The same subject lands in the same
arm for the whole experiment, whatever other subjects do. Without a subject the bucket is
random per call.
"""

import hashlib
import random
from collections.abc import Sequence

BUCKETS = 10_000


def bucket_of(experiment_id: int, subject: str | None) -> int:
    if not subject:
        return random.randrange(BUCKETS)
    digest = hashlib.sha256(f"{experiment_id}:{subject}".encode()).hexdigest()
    return int(digest, 16) % BUCKETS


def arm_ranges(weights: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive bucket ranges [lo, hi) by weight (whole percents summing to 100)."""
    ranges, lo = [], 0
    for weight in weights:
        hi = lo + weight * BUCKETS // 100
        ranges.append((lo, hi))
        lo = hi
    return ranges


def pick(arms: Sequence[dict], bucket: int) -> dict:
    """The arm whose [lo, hi) range holds the bucket."""
    for arm in arms:
        if arm["lo"] <= bucket < arm["hi"]:
            return arm
    return arms[-1]
