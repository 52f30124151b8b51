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
