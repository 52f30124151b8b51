"""What the request middleware counts as the service's own failure, for the
availability indicator: answers it sent with a 5xx, not requests a client
left before any answer."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from sceau.ops.middleware import RequestContextMiddleware
from sceau.runtime import Runtime
from sceau.sla.models import RequestMinute
from sceau.sla.recorder import record_heartbeat, recorder_for
from sceau.sla.service import AVAILABILITY, indicators
from tests.conftest import Provisioned
from tests.sla.conftest import at, set_client

MINUTE = at(9, 14, 0)


def _serve(runtime: Runtime, client_id: str, behaviour: str) -> None:
    """One request through the middleware to an app that behaves as named,
    by a client authenticated as ``client_id``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"]["client_id"] = client_id
        if behaviour == "left":
            # The client hung up; the app noticed and gave up answering.
            return
        if behaviour == "disconnect":
            raise ClientDisconnect()
        if behaviour == "bug":
            raise RuntimeError("a bug")
        status = {"ok": 200, "unavailable": 503}[behaviour]
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/sceau/b2b/types-acte",
        "headers": [],
        "client": ("127.0.0.1", 50000),
        "app": SimpleNamespace(
            state=SimpleNamespace(runtime=runtime, api_clock=lambda: MINUTE)
        ),
    }
    middleware = RequestContextMiddleware(app, max_body_bytes=1024)
    # Raised on to the error handler, which answers the bug with a 500.
    with contextlib.suppress(RuntimeError, ClientDisconnect):
        asyncio.run(middleware(scope, receive, send))


def _counted(runtime: Runtime, client_id: str) -> tuple[int, int]:
    recorder_for(runtime.db).flush(runtime.db)
    with runtime.db.sessions() as session:
        row = session.scalars(
            select(RequestMinute).where(
                RequestMinute.client_id == client_id, RequestMinute.minute == MINUTE
            )
        ).one()
    return row.requests, row.server_errors


@pytest.mark.parametrize(
    ("behaviour", "server_errors"),
    [("ok", 0), ("unavailable", 1), ("bug", 1), ("left", 0), ("disconnect", 0)],
)
def test_only_answers_the_service_failed_count_as_server_errors(
    runtime: Runtime, atlanta: Provisioned, behaviour: str, server_errors: int
) -> None:
    _serve(runtime, atlanta.client_id, behaviour)

    assert _counted(runtime, atlanta.client_id) == (1, server_errors)


def test_a_client_that_left_leaves_its_minute_available(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    set_client(runtime, atlanta.client_id, plan="forfait", created_at=MINUTE)
    with runtime.db.transaction() as session:
        record_heartbeat(session, MINUTE, healthy=True)
    _serve(runtime, atlanta.client_id, "left")
    _counted(runtime, atlanta.client_id)

    with runtime.db.sessions() as session:
        shown = indicators(
            session,
            runtime.settings,
            atlanta.client_id,
            "2026-11",
            now=MINUTE + timedelta(minutes=1),
        )
    availability = next(i for i in shown if i.code == AVAILABILITY)
    assert availability.value == 100.0
