"""Delivery metrics, on the service's registry (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from sceau.ops.metrics import REGISTRY

DELIVERY_ATTEMPTS = Counter(
    "sceau_delivery_attempts_total",
    "Delivery attempts by channel (webhook, email) and outcome.",
    ["channel", "outcome"],
    registry=REGISTRY,
)
DELIVERY_DELAY = Histogram(
    "sceau_event_delivery_delay_seconds",
    "Time from an event's creation to its delivery, by event type "
    "(for incident notices: declaration to delivery, the SLA's measure).",
    ["type"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 7200, 86400),
    registry=REGISTRY,
)
