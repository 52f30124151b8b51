"""Prometheus metrics, served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "sceau_http_requests_total",
    "HTTP requests served, by route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "sceau_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1, 2.5, 3, 5, 10),
    registry=REGISTRY,
)
SIGNATURES = Counter(
    "sceau_signatures_total",
    "Signature requests by PAdES level and outcome (signe, or the error code).",
    ["level", "outcome"],
    registry=REGISTRY,
)
SIGNING_LATENCY = Histogram(
    "sceau_signature_duration_seconds",
    "Time to sign and record a document, by PAdES level.",
    ["level"],
    buckets=(0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 3, 10),
    registry=REGISTRY,
)
AUTH_REFUSALS = Counter(
    "sceau_auth_refusals_total",
    "Requests refused by authentication, by client (or inconnu) and error code.",
    ["client_id", "reason"],
    registry=REGISTRY,
)
ANCHOR_SUBMISSIONS = Counter(
    "sceau_anchor_submissions_total",
    "Batch roots sent to an OpenTimestamps calendar, by calendar and outcome.",
    ["calendar", "outcome"],
    registry=REGISTRY,
)
ANCHOR_UPGRADES = Counter(
    "sceau_anchor_upgrades_total",
    "Upgrade requests to calendars, by outcome (pending, upgraded, error).",
    ["outcome"],
    registry=REGISTRY,
)
ANCHOR_BITCOIN_CHECK_FAILURES = Counter(
    "sceau_anchor_bitcoin_check_failures_total",
    "Bitcoin attestations refused: the block's Merkle root did not match.",
    registry=REGISTRY,
)
ANCHOR_DOCUMENTS = Counter(
    "sceau_anchor_documents_total",
    "Documents gathered into batches, and documents confirmed in Bitcoin.",
    ["stage"],
    registry=REGISTRY,
)
