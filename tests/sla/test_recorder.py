"""Request counts per minute and heartbeats: taken in memory, added to the
stored rows by any number of processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sceau.app import create_app
from sceau.db import Database
from sceau.events.worker import standard_chores
from sceau.runtime import Runtime
from sceau.sla.models import (
    BUCKET_COLUMNS,
    KIND_API,
    KIND_SIGNING,
    Heartbeat,
    RequestMinute,
)
from sceau.sla.recorder import (
    RequestRecorder,
    bucket_of,
    record_heartbeat,
    recorder_for,
    request_kind,
    sla_chore,
)
from tests.conftest import Provisioned, sign_body
from tests.sla.conftest import at

SIGN = "/api/v1/sceau/b2b/signer"
CATALOGUE = "/api/v1/sceau/b2b/types-acte"


def minutes(runtime: Runtime) -> dict[tuple[str, datetime, str], RequestMinute]:
    with runtime.db.sessions() as session:
        rows = session.scalars(select(RequestMinute)).all()
    return {(row.client_id, row.minute, row.kind): row for row in rows}


def buckets(row: RequestMinute) -> list[int]:
    return [getattr(row, name) for name in BUCKET_COLUMNS]


def test_api_and_signing_requests_are_counted_apart_per_minute(
    api: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    pdf: bytes,
    frozen_api: Callable[[datetime], None],
) -> None:
    frozen_api(at(10, 9, 30, 12))
    for _ in range(3):
        assert api.get(CATALOGUE, headers=atlanta.headers).status_code == 200
    signed = api.post(SIGN, headers=atlanta.headers, json=sign_body(atlanta, pdf))
    assert signed.status_code == 200
    frozen_api(at(10, 9, 31, 5))
    api.get(CATALOGUE, headers=atlanta.headers)

    assert recorder_for(runtime.db).flush(runtime.db) == 3

    rows = minutes(runtime)
    api_minute = rows[(atlanta.client_id, at(10, 9, 30), KIND_API)]
    assert (api_minute.requests, api_minute.server_errors) == (3, 0)
    assert sum(buckets(api_minute)) == 3
    assert rows[(atlanta.client_id, at(10, 9, 30), KIND_SIGNING)].requests == 1
    assert rows[(atlanta.client_id, at(10, 9, 31), KIND_API)].requests == 1


def test_requests_without_a_client_are_not_counted(
    api: TestClient, runtime: Runtime, atlanta: Provisioned
) -> None:
    refused = api.get(CATALOGUE, headers={"X-Identity-API-Key": "inconnue"})
    assert refused.status_code == 401
    api.get("/healthz")

    assert recorder_for(runtime.db).flush(runtime.db) == 0
    assert minutes(runtime) == {}


def test_the_app_flushes_its_counts_when_it_stops(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    with TestClient(create_app(runtime.settings, runtime)) as api:
        api.app.state.api_clock = lambda: at(3, 8, 0)  # type: ignore[attr-defined]
        api.get(CATALOGUE, headers=atlanta.headers)
        assert minutes(runtime) == {}

    assert minutes(runtime)[(atlanta.client_id, at(3, 8), KIND_API)].requests == 1


def test_every_api_process_flushes_its_counts_without_a_worker_loop(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    # No worker loop in this app (SCEAU_WORKER_IN_SERVE=false, or a runtime
    # passed in): the API process flushes its own counts nonetheless.
    quick = Runtime(runtime.settings.model_copy(update={"sla_chore_seconds": 0.05}))
    app = create_app(quick.settings, quick, delivery_worker=False)
    try:
        with TestClient(app) as api:
            api.app.state.api_clock = lambda: at(3, 8, 0)  # type: ignore[attr-defined]
            api.get(CATALOGUE, headers=atlanta.headers)

            deadline = time.monotonic() + 10
            while not minutes(runtime) and time.monotonic() < deadline:
                time.sleep(0.05)

            assert (
                minutes(runtime)[(atlanta.client_id, at(3, 8), KIND_API)].requests == 1
            )
            assert recorder_for(quick.db).pending() == 0
    finally:
        quick.close()


def test_a_backlog_of_thousands_of_minutes_is_flushed_at_once(
    runtime: Runtime, atlanta: Provisioned, beta: Provisioned
) -> None:
    # An outage's backlog: more rows than PostgreSQL takes parameters in one
    # statement (about 21 per row, 65 535 at most).
    recorder = RequestRecorder()
    start = at(2)
    for index in range(1700):
        moment = start + timedelta(minutes=index)
        for client in (atlanta, beta):
            recorder.observe(client.client_id, KIND_API, moment, 40)
    recorder.observe(atlanta.client_id, KIND_API, start, 40)

    assert recorder.flush(runtime.db) == 3400

    rows = minutes(runtime)
    assert len(rows) == 3400
    assert sum(row.requests for row in rows.values()) == 3401
    assert rows[(atlanta.client_id, start, KIND_API)].requests == 2
    assert recorder.pending() == 0


def test_two_processes_flushing_the_same_minute_add_up(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    # Two recorders are two processes' memories, on one database.
    first, second = RequestRecorder(), RequestRecorder()
    first.observe(atlanta.client_id, KIND_API, at(5, 12, 0, 1), 40)
    first.observe(atlanta.client_id, KIND_API, at(5, 12, 0, 2), 900, server_error=True)
    second.observe(atlanta.client_id, KIND_API, at(5, 12, 0, 59), 40)

    first.flush(runtime.db)
    second.flush(runtime.db)
    second.observe(atlanta.client_id, KIND_API, at(5, 12, 0, 30), 12000)
    second.flush(runtime.db)

    row = minutes(runtime)[(atlanta.client_id, at(5, 12), KIND_API)]
    assert (row.requests, row.server_errors) == (4, 1)
    expected = [0] * len(BUCKET_COLUMNS)
    expected[bucket_of(40)] = 2
    expected[bucket_of(900)] = 1
    expected[-1] = 1
    assert buckets(row) == expected


def test_a_failed_flush_keeps_its_counts_for_the_next(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    recorder = RequestRecorder()
    recorder.observe(atlanta.client_id, KIND_API, at(5, 12), 40)
    gone = Database("postgresql+psycopg://sceau@127.0.0.1:1/nulle_part")

    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        recorder.flush(gone)
    gone.dispose()

    assert recorder.pending() == 1
    assert recorder.flush(runtime.db) == 1
    assert minutes(runtime)[(atlanta.client_id, at(5, 12), KIND_API)].requests == 1


def test_latencies_fall_in_the_bucket_of_their_upper_edge() -> None:
    assert bucket_of(0) == 0
    assert bucket_of(25) == 0
    assert bucket_of(25.01) == 1
    assert BUCKET_COLUMNS[bucket_of(800)] == "le_800"
    assert BUCKET_COLUMNS[bucket_of(800.5)] == "le_1000"
    assert BUCKET_COLUMNS[bucket_of(10_001)] == "le_inf"


def test_only_signing_routes_are_signing() -> None:
    assert request_kind("POST", SIGN, 200) == KIND_SIGNING
    assert request_kind("POST", SIGN, 503) == KIND_SIGNING
    assert request_kind("POST", "/api/v1/sceau/b2b/actes/auto", 200) == KIND_SIGNING
    # The matrix sent the act to a person: nothing was signed.
    assert request_kind("POST", "/api/v1/sceau/b2b/actes/auto", 201) == KIND_API
    assert request_kind("POST", "/api/v1/sceau/b2b/actes", 201) == KIND_API
    assert request_kind("GET", CATALOGUE, 200) == KIND_API


def test_a_minute_stays_healthy_only_if_every_beat_in_it_was(
    runtime: Runtime,
) -> None:
    with runtime.db.transaction() as session:
        record_heartbeat(session, at(2, 10, 0, 5), healthy=True)
        record_heartbeat(session, at(2, 10, 0, 40), healthy=True)
        record_heartbeat(session, at(2, 10, 1, 5), healthy=True)
        record_heartbeat(session, at(2, 10, 1, 25), healthy=False)
        record_heartbeat(session, at(2, 10, 1, 45), healthy=True)

    with runtime.db.sessions() as session:
        beats = {b.minute: b.healthy for b in session.scalars(select(Heartbeat))}
    assert beats == {at(2, 10, 0): True, at(2, 10, 1): False}


def test_every_worker_loop_flushes_and_beats(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    recorder_for(runtime.db).observe(atlanta.client_id, KIND_API, at(4), 40)
    chores = {c.name: c for c in standard_chores(runtime.db, runtime.settings)}

    chores["sla.record"].run()

    assert (atlanta.client_id, at(4), KIND_API) in minutes(runtime)
    with runtime.db.sessions() as session:
        assert [b.healthy for b in session.scalars(select(Heartbeat))] == [True]


def test_a_service_without_its_keys_beats_unhealthy(
    runtime: Runtime, tmp_path: object
) -> None:
    keyless = runtime.settings.model_copy(update={"data_dir": tmp_path})

    sla_chore(runtime.db, keyless)()

    with runtime.db.sessions() as session:
        assert [b.healthy for b in session.scalars(select(Heartbeat))] == [False]


def test_processes_flushing_the_same_minute_at_once_lose_nothing(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    # Each "process" has its own engine and memory; all flush together.
    databases = [Database(runtime.db.url) for _ in range(6)]
    recorders = [RequestRecorder() for _ in databases]
    for recorder in recorders:
        for second in range(25):
            recorder.observe(atlanta.client_id, KIND_API, at(7, 9, 0, second), 60)
    start = threading.Barrier(len(databases))

    def flush(index: int) -> None:
        start.wait()
        recorders[index].flush(databases[index])

    threads = [threading.Thread(target=flush, args=(i,)) for i in range(len(databases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for database in databases:
        database.dispose()

    row = minutes(runtime)[(atlanta.client_id, at(7, 9), KIND_API)]
    assert row.requests == 150
    assert row.le_100 == 150
    assert all(recorder.pending() == 0 for recorder in recorders)
