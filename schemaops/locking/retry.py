"""Waiting between tries: exponential backoff with jitter, for a retry after
``lock_timeout`` and for a runner waiting for the runner lock, and the budget for
waiting on long transactions that follows from it.

The one loop that retries a statement or a unit after ``lock_timeout``, for both
tiers, is :meth:`schemaops.locking.discipline.LockDiscipline.retrying`.
"""

from __future__ import annotations

import random

RETRY_BASE_DELAY = 0.25
RETRY_MAX_DELAY = 10.0


def delay(attempt: int, base: float = RETRY_BASE_DELAY, cap: float = RETRY_MAX_DELAY) -> float:
    """Return the delay before try ``attempt`` (0-based), without jitter: ``base``
    doubled each try, at most ``cap``."""
    return min(base * 2.0**attempt, cap)


def jitter(seconds: float) -> float:
    """Return ``seconds`` spread by ±50 %, so runners that collided do not again."""
    return seconds * random.uniform(0.5, 1.5)


def backoff(attempt: int) -> float:
    """Return the delay before retry ``attempt`` (0-based): exponential, with jitter."""
    return jitter(delay(attempt))


def queue_budget(retries: int) -> float:
    """Return how long a statement may wait for long transactions to end: as long as
    its ``retries`` would back off in all (55.75 s for 10)."""
    return sum(delay(attempt) for attempt in range(retries))
