"""The current month's SLA indicators and targets, per client, in /metrics.

Read from the database when ``/metrics`` is scraped, at most once per
``SCEAU_SLA_METRICS_CACHE_SECONDS`` and by one scrape at a time (the others
meanwhile serve the last reading); the collector itself only replays the
last reading, so that producing the page never touches the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from sceau.clients.models import Client
from sceau.db import Database, utcnow
from sceau.ops.metrics import REGISTRY
from sceau.sla.service import indicators, month_of

logger = logging.getLogger(__name__)

VALUE_METRIC = "sceau_sla_indicator"
TARGET_METRIC = "sceau_sla_target"
MET_METRIC = "sceau_sla_met"

Reading = tuple[str, str, str, float | None, float | None, bool | None]


class SlaGauges(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Held by the one scrape that reads the database (a few queries per
        # client and indicator); concurrent scrapes do not queue behind it.
        self._reading = threading.Lock()
        self._readings: list[Reading] = []
        self._read_at: float | None = None
        self._db: Database | None = None

    def refresh(self, runtime: Any, now: datetime | None = None) -> None:
        """Read the indicators again if the last reading is too old (or of
        another database) and no other scrape is reading them already."""
        cache = runtime.settings.sla_metrics_cache_seconds
        with self._lock:
            fresh = (
                self._db is runtime.db
                and self._read_at is not None
                and time.monotonic() - self._read_at < cache
            )
        if fresh or not self._reading.acquire(blocking=False):
            return
        try:
            readings = _read(runtime, now or utcnow())
        except Exception:
            # The other metrics must still be served: keep the last reading.
            logger.exception("sla.metrics_failed")
            return
        else:
            with self._lock:
                self._readings, self._read_at, self._db = (
                    readings,
                    time.monotonic(),
                    runtime.db,
                )
        finally:
            self._reading.release()

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            readings = list(self._readings)
        labels = ["client_id", "indicateur", "mois"]
        values = GaugeMetricFamily(
            VALUE_METRIC,
            "SLA indicator of the current UTC month, per client (unit in the "
            "code: _ms, _min, _pct).",
            labels=labels,
        )
        targets = GaugeMetricFamily(
            TARGET_METRIC,
            "Target of the indicator under the client's plan.",
            labels=labels,
        )
        met = GaugeMetricFamily(
            MET_METRIC, "1 when the indicator meets its target, else 0.", labels=labels
        )
        for client_id, code, month, value, target, ok in readings:
            key = [client_id, code, month]
            if value is not None:
                values.add_metric(key, value)
            if target is not None:
                targets.add_metric(key, target)
            if ok is not None:
                met.add_metric(key, 1.0 if ok else 0.0)
        yield values
        yield targets
        yield met


def _read(runtime: Any, now: datetime) -> list[Reading]:
    month = month_of(now)
    readings: list[Reading] = []
    with runtime.db.sessions() as session:
        for client_id in session.scalars(select(Client.id).order_by(Client.id)):
            for shown in indicators(
                session, runtime.settings, client_id, month, now=now
            ):
                readings.append(
                    (client_id, shown.code, month, shown.value, shown.target, shown.met)
                )
    return readings


SLA_GAUGES = SlaGauges()
REGISTRY.register(SLA_GAUGES)
