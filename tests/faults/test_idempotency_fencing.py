"""The fencing of an idempotency key between a slow first attempt and the
retries that take it over, step by step on the real database: whatever the
order, one signature at most is recorded under one key."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text, update

from sceau.db import database_now
from sceau.idempotency import service as idempotency
from sceau.idempotency.errors import RequestInProgress
from sceau.idempotency.models import IdempotencyKey
from sceau.runtime import Runtime
from tests.conftest import Provisioned

KEY = "commande-2026-04231"
FINGERPRINT = idempotency.fingerprint("POST", "/api/v1/sceau/b2b/signer", b"{}")
LEASE = timedelta(seconds=120)
TTL = timedelta(hours=24)


def _claim(runtime: Runtime, client: Provisioned) -> idempotency.Claim:
    outcome = idempotency.claim(
        runtime.db,
        client_id=client.client_id,
        key=KEY,
        request_fingerprint=FINGERPRINT,
        ttl=TTL,
        lock_timeout=LEASE,
    )
    assert isinstance(outcome, idempotency.Claim)
    return outcome


def _expire_hold(runtime: Runtime) -> None:
    """The holder's lease ran out: its claim is older than the lease."""
    with runtime.db.transaction() as session:
        long_ago = database_now(session) - LEASE - timedelta(seconds=1)
        session.execute(update(IdempotencyKey).values(locked_at=long_ago))


def _rows(runtime: Runtime) -> list[tuple[str, str | None]]:
    with runtime.db.sessions() as session:
        return [
            (row.state, row.ref_signature)
            for row in session.scalars(select(IdempotencyKey))
        ]


def test_a_slow_attempt_cannot_complete_a_key_released_by_its_successor(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    """A slow loses its lease, B takes the key over, fails and releases it;
    A's completion then matches no row and is refused: committed, it would be
    a signature the key does not know, and the retry a second one."""
    slow = _claim(runtime, atlanta)
    _expire_hold(runtime)
    successor = _claim(runtime, atlanta)
    assert successor.locked_at != slow.locked_at
    idempotency.release(runtime.db, successor)
    assert _rows(runtime) == []

    with pytest.raises(RequestInProgress), runtime.db.transaction() as session:
        idempotency.complete(session, slow, "SIG-LENTE")

    # Nothing recorded; the client's retry claims the key afresh and signs once.
    assert _rows(runtime) == []
    retry = _claim(runtime, atlanta)
    with runtime.db.transaction() as session:
        idempotency.complete(session, retry, "SIG-UNIQUE")
    assert _rows(runtime) == [("termine", "SIG-UNIQUE")]


def test_a_slow_attempt_cannot_complete_a_key_taken_over(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    slow = _claim(runtime, atlanta)
    _expire_hold(runtime)
    successor = _claim(runtime, atlanta)
    with runtime.db.transaction() as session:
        idempotency.complete(session, successor, "SIG-RETRY")

    with pytest.raises(RequestInProgress), runtime.db.transaction() as session:
        idempotency.complete(session, slow, "SIG-LENTE")
    assert _rows(runtime) == [("termine", "SIG-RETRY")]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_retries_taking_over_at_once_leave_the_key_to_one(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    """Both retries read the dead holder's claim before either writes: the
    takeover is conditional on the hold they read, so the second, once the
    first commits, takes nothing and is told the key is in progress."""
    _claim(runtime, atlanta)
    _expire_hold(runtime)

    first = runtime.db.sessions()
    first.begin()
    taken = idempotency._claim_once(
        first, atlanta.client_id, KEY, FINGERPRINT, TTL, LEASE
    )
    assert isinstance(taken, idempotency.Claim)

    outcome: list[object] = []
    backend: list[int] = []
    connected = threading.Event()

    def second_retry() -> None:
        try:
            with runtime.db.transaction() as session:
                backend.append(int(session.scalar(text("SELECT pg_backend_pid()"))))
                connected.set()
                outcome.append(
                    idempotency._claim_once(
                        session, atlanta.client_id, KEY, FINGERPRINT, TTL, LEASE
                    )
                )
        except RequestInProgress as exc:
            outcome.append(exc)

    second = threading.Thread(target=second_retry)
    second.start()
    # The second retry has read the old hold and waits on the row's lock.
    assert connected.wait(60), outcome
    watcher = create_engine(runtime.settings.database_url)
    try:
        with watcher.connect() as connection:
            for _ in range(600):
                waiting = connection.execute(
                    text(
                        "SELECT wait_event_type = 'Lock' "
                        "AND query LIKE 'UPDATE idempotency_keys%' "
                        "FROM pg_stat_activity WHERE pid = :pid"
                    ),
                    {"pid": backend[0]},
                ).scalar()
                if waiting:
                    break
                second.join(0.1)
            assert waiting, "the second retry never waited on the row"
    finally:
        watcher.dispose()
    first.commit()
    first.close()
    second.join(60)

    [refused] = outcome
    assert isinstance(refused, RequestInProgress)
    with runtime.db.sessions() as session:
        [row] = session.scalars(select(IdempotencyKey))
        assert row.locked_at == taken.locked_at
