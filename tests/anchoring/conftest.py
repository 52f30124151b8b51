"""Two test calendars and a test chain on loopback, a worker driven step by
step on a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from sceau.anchoring.worker import AnchoringWorker, anchoring_worker_for
from sceau.db import utcnow
from sceau.runtime import Runtime
from tests.support.ots_calendar import (
    LoopbackCalendar,
    LoopbackChain,
    running_calendar,
    running_chain,
)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Anchoring:
    worker: AnchoringWorker
    clock: Clock
    calendars: list[LoopbackCalendar]
    chain: LoopbackChain

    def later(self, **delta: float) -> int:
        """Move the clock, then run one pass of every step."""
        self.clock.advance(**delta)
        return self.worker.run_once()


@pytest.fixture
def chain() -> Iterator[LoopbackChain]:
    with running_chain() as running:
        yield running


@pytest.fixture
def calendars(chain: LoopbackChain) -> Iterator[list[LoopbackCalendar]]:
    with running_calendar(chain) as first, running_calendar(chain) as second:
        yield [first, second]


@pytest.fixture
def anchoring(
    runtime: Runtime, calendars: list[LoopbackCalendar], chain: LoopbackChain
) -> Anchoring:
    settings = runtime.settings.model_copy(
        update={
            "anchor_calendars": [c.url for c in calendars],
            "anchor_header_source": f"esplora:{chain.url}",
            "anchor_calendar_timeout_seconds": 1.0,
        }
    )
    clock = Clock()
    worker = anchoring_worker_for(runtime.db, settings)
    worker.clock = clock
    return Anchoring(worker, clock, calendars, chain)
