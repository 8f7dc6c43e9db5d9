"""Retrying after ``lock_timeout``: exponential backoff with jitter, and the budget for
waiting on long transactions that follows from it."""

from __future__ import annotations

import random

RETRY_BASE_DELAY = 0.25
RETRY_MAX_DELAY = 10.0


def backoff(attempt: int) -> float:
    """Return the delay before retry ``attempt`` (0-based): exponential, with jitter."""
    delay: float = min(RETRY_BASE_DELAY * 2.0**attempt, RETRY_MAX_DELAY)
    return delay * random.uniform(0.5, 1.5)


def queue_budget(retries: int) -> float:
    """Return how long a statement may wait for long transactions to end: as long as
    its ``retries`` would back off in all (55.75 s for 10)."""
    return sum(min(RETRY_BASE_DELAY * 2.0**attempt, RETRY_MAX_DELAY) for attempt in range(retries))
