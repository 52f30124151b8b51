"""When to try again: the retry schedule, with jitter, and an injectable clock
so that tests can walk through three days of retries in no time."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

# The longest a receiver's Retry-After may push the next attempt back.
MAX_RETRY_AFTER = timedelta(hours=24)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RetrySchedule:
    """``delays[i]`` seconds after the (i+1)-th failed attempt; once they are
    used up the delivery has failed. Each delay moves by up to ±``jitter`` of
    itself, so that deliveries that failed together do not retry together."""

    def __init__(
        self,
        delays: Sequence[float],
        *,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        self.delays = tuple(float(d) for d in delays)
        self.jitter = jitter
        self._rng = rng or random.SystemRandom()

    @property
    def attempts(self) -> int:
        """How many attempts a delivery gets in all."""
        return 1 + len(self.delays)

    def next_delay(
        self, failed_attempts: int, retry_after: float | None = None
    ) -> timedelta | None:
        """How long to wait after ``failed_attempts`` failures, or None to stop."""
        if failed_attempts > len(self.delays):
            return None
        base = self.delays[failed_attempts - 1]
        delay = base * (1 + self._rng.uniform(-self.jitter, self.jitter))
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER.total_seconds()))
        return timedelta(seconds=delay)
