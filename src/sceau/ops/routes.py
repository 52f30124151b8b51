"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from sceau.http import frozen_now, runtime_of
from sceau.ops.health import health_checks
from sceau.ops.metrics import REGISTRY
from sceau.runtime import Runtime
from sceau.sla.metrics import SLA_GAUGES

logger = logging.getLogger(__name__)

router = APIRouter(tags=["Exploitation"])


@router.get("/healthz", summary="État du service")
async def healthz(request: Request) -> JSONResponse:
    checks = await run_in_threadpool(_checks, runtime_of(request))
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"statut": "ok" if healthy else "degrade", **checks},
        status_code=200 if healthy else 503,
    )


@router.get("/metrics", response_class=Response, summary="Métriques Prometheus")
async def metrics(request: Request) -> Response:
    # The SLA gauges read the database, at most once a cache period.
    await run_in_threadpool(
        SLA_GAUGES.refresh, runtime_of(request), frozen_now(request)
    )
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def _checks(runtime: Runtime) -> dict[str, str]:
    return health_checks(runtime.db, lambda: runtime.pki)
