"""Separate ``sceau worker`` processes on PostgreSQL: killed mid-delivery,
and two at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sceau.events import types
from sceau.events.models import STATUS_DELIVERED, Delivery, DeliveryAttempt
from sceau.events.service import emit
from sceau.runtime import Runtime
from sceau.webhooks.service import add_endpoint
from sceau.webhooks.signatures import SecretBox
from tests.conftest import provision
from tests.support.events import Mailbox, Receiver, event_settings

LEASE_SECONDS = 4


@pytest.fixture
def pg_runtime(
    data_dir: Path, postgres_url: str, mailbox: Mailbox
) -> Iterator[Runtime]:
    settings = event_settings(
        data_dir,
        postgres_url,
        webhook_timeout_seconds=1.0,
        smtp_timeout_seconds=1.0,
        worker_lease_seconds=LEASE_SECONDS,
    )
    made = Runtime(settings)
    made.prepare()
    yield made
    made.close()


def _start_worker(runtime: Runtime) -> subprocess.Popen[bytes]:
    settings = runtime.settings
    env = {
        **os.environ,
        "SCEAU_DATA_DIR": str(settings.data_dir),
        "SCEAU_DATABASE_URL": settings.resolved_database_url,
        "SCEAU_ALLOW_HTTP_LOOPBACK_CALLBACKS": "true",
        "SCEAU_WEBHOOK_TIMEOUT_SECONDS": "1",
        "SCEAU_SMTP_TIMEOUT_SECONDS": "1",
        "SCEAU_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "SCEAU_WORKER_POLL_SECONDS": "0.05",
        "SCEAU_WORKER_BATCH_SIZE": "5",
        "SCEAU_LOG_FORMAT": "text",
        "SCEAU_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "sceau.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _endpoints(runtime: Runtime, client_id: str, urls: list[str]) -> None:
    box = SecretBox(runtime.settings.load_master_key())
    with runtime.db.transaction() as session:
        for url in urls:
            add_endpoint(
                session, box, client_id=client_id, url=url, allow_http_loopback=True
            )


def _emit(runtime: Runtime, client_id: str, count: int) -> list[str]:
    with runtime.db.transaction() as session:
        return [
            emit(
                session,
                client_id=client_id,
                type=types.HORODATAGE_CONFIRME,
                data={"numero": n},
            ).id
            for n in range(count)
        ]


def test_a_worker_killed_mid_delivery_leaves_it_to_the_next_one(
    pg_runtime: Runtime, receiver: Receiver
) -> None:
    client = provision(pg_runtime)
    _endpoints(pg_runtime, client.client_id, [receiver.url()])
    [event_id] = _emit(pg_runtime, client.client_id, 1)
    receiver.hold = True  # the first request is received, and never answered

    first = _start_worker(pg_runtime)
    assert receiver.got_request.wait(30), "the first worker never delivered"
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    receiver.release()

    second = _start_worker(pg_runtime)
    try:
        receiver.wait_for(2, timeout=LEASE_SECONDS + 30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with pg_runtime.db.sessions() as session:
                delivery = session.scalars(select(Delivery)).one()
            if delivery.status == STATUS_DELIVERED:
                break
            time.sleep(0.1)
    finally:
        _stop(second)

    assert receiver.ids() == [event_id, event_id]  # same webhook-id both times
    assert delivery.status == STATUS_DELIVERED
    assert delivery.attempts == 1  # the killed attempt left no record


def test_two_workers_never_make_the_same_delivery_twice(
    pg_runtime: Runtime, receiver: Receiver
) -> None:
    client = provision(pg_runtime)
    urls = [receiver.url(f"/point-{n}") for n in range(8)]
    _endpoints(pg_runtime, client.client_id, urls)
    ids = _emit(pg_runtime, client.client_id, 40)  # 320 deliveries
    total = len(ids) * len(urls)

    workers = [_start_worker(pg_runtime), _start_worker(pg_runtime)]
    try:
        receiver.wait_for(total, timeout=120)
        time.sleep(0.5)  # let any duplicate arrive
    finally:
        for worker in workers:
            _stop(worker)

    seen = Counter((r.path, r.headers["webhook-id"]) for r in receiver.received)
    assert len(seen) == total
    assert max(seen.values()) == 1
    for url in urls:
        path = url.split(str(receiver.port))[1]
        got = [r.headers["webhook-id"] for r in receiver.received if r.path == path]
        assert got == ids  # in order of creation, per destination
    with pg_runtime.db.sessions() as session:
        by_worker = Counter(session.scalars(select(DeliveryAttempt.worker)).all())
        attempts = session.scalar(select(func.count()).select_from(DeliveryAttempt))
    assert attempts == total
    assert len(by_worker) == 2, by_worker  # both took part
