"""Request minutes and heartbeats: how the SLA's own measures are taken.

Every authenticated request is counted in memory, per client, UTC minute and
kind (``api`` or ``signing``), in latency buckets; each API process flushes
its own counts periodically (``PeriodicFlush``, started by the app) and at
shutdown, by adding them to the stored rows. Nothing is written on a
request's path, and any number of processes may flush the same minute: every
stored count only grows by what a flush adds.

The worker chore ``sla.record`` flushes its own process's counts too, then
runs the ``/healthz`` checks and records, once a minute, whether they passed
(the heartbeat of the availability indicator).
"""

from __future__ import annotations

import bisect
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sceau.db import Database, storage_failure, storage_reason, utcnow
from sceau.hsm.keys import open_token
from sceau.ops.health import health_checks
from sceau.pki.keystore import KeySealer
from sceau.pki.service import PkiUrls, ServicePki
from sceau.settings import Settings
from sceau.sla.models import (
    BUCKET_COLUMNS,
    KIND_API,
    KIND_SIGNING,
    LATENCY_EDGES_MS,
    Heartbeat,
    RequestMinute,
)

logger = logging.getLogger(__name__)

AUTO_ROUTE = "/api/v1/sceau/b2b/actes/auto"
# The routes that put a signature on a document; the sheet's API response
# time excludes them, and the signing time is measured on the signatures.
SIGNING_ROUTES = frozenset({("POST", "/api/v1/sceau/b2b/signer"), ("POST", AUTO_ROUTE)})
# /actes/auto answers 201 when the matrix sends the act to a person: then it
# signed nothing, and the request was an ordinary API call.
ACT_CREATED = 201

Key = tuple[str, datetime, str]

# Rows per INSERT: each carries 21 parameters, and PostgreSQL takes at most
# 65 535 in one statement, which an outage's backlog would pass.
ROWS_PER_INSERT = 1000


def request_kind(method: str, route: str, status: int) -> str:
    if (method, route) not in SIGNING_ROUTES:
        return KIND_API
    if route == AUTO_ROUTE and status == ACT_CREATED:
        return KIND_API
    return KIND_SIGNING


def bucket_of(duration_ms: float) -> int:
    """The index of the first bucket whose upper edge is at least the time."""
    return bisect.bisect_left(LATENCY_EDGES_MS, duration_ms)


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


@dataclass
class _Tally:
    requests: int = 0
    server_errors: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKET_COLUMNS))

    def add(self, other: _Tally) -> None:
        self.requests += other.requests
        self.server_errors += other.server_errors
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]

    def row(self, key: Key) -> dict[str, Any]:
        client_id, minute, kind = key
        return {
            "client_id": client_id,
            "minute": minute,
            "kind": kind,
            "requests": self.requests,
            "server_errors": self.server_errors,
            **dict(zip(BUCKET_COLUMNS, self.buckets, strict=True)),
        }


class RequestRecorder:
    """One process's counts not yet flushed, for one database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[Key, _Tally] = {}

    def observe(
        self,
        client_id: str,
        kind: str,
        at: datetime,
        duration_ms: float,
        *,
        server_error: bool = False,
    ) -> None:
        key = (client_id, minute_of(at), kind)
        with self._lock:
            tally = self._tallies.setdefault(key, _Tally())
            tally.requests += 1
            tally.server_errors += int(server_error)
            tally.buckets[bucket_of(duration_ms)] += 1

    def pending(self) -> int:
        with self._lock:
            return len(self._tallies)

    def flush(self, db: Database) -> int:
        """Add the counts to the stored minutes; the rows written. Counts that
        could not be written are kept for the next flush."""
        with self._lock:
            taken, self._tallies = self._tallies, {}
        if not taken:
            return 0
        rows = [taken[key].row(key) for key in sorted(taken)]
        try:
            with db.transaction() as session:
                add_request_minutes(session, rows)
        except BaseException:
            with self._lock:
                for key, tally in taken.items():
                    self._tallies.setdefault(key, _Tally()).add(tally)
            raise
        return len(rows)


_RECORDERS: weakref.WeakKeyDictionary[Database, RequestRecorder] = (
    weakref.WeakKeyDictionary()
)
_RECORDERS_LOCK = threading.Lock()


def recorder_for(db: Database) -> RequestRecorder:
    """This process's recorder for the database (one per ``Database``)."""
    with _RECORDERS_LOCK:
        recorder = _RECORDERS.get(db)
        if recorder is None:
            recorder = _RECORDERS[db] = RequestRecorder()
        return recorder


# -- what the middleware calls ---------------------------------------------------


def record_request(
    scope: Mapping[str, Any],
    *,
    method: str,
    route: str,
    status: int,
    seconds: float,
    server_error: bool,
) -> None:
    """Count one request, if it was an authenticated client's; a
    ``server_error`` is an answer of status 500 or more the service sent."""
    client_id = scope.get("state", {}).get("client_id")
    app = scope.get("app")
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    if client_id is None or runtime is None:
        return
    # A test may freeze the API's clock; the minute follows it.
    clock = getattr(app.state, "api_clock", None)  # type: ignore[union-attr]
    at = clock() if clock is not None else utcnow()
    recorder_for(runtime.db).observe(
        client_id,
        request_kind(method, route, status),
        at,
        seconds * 1000,
        server_error=server_error,
    )


class PeriodicFlush:
    """A daemon thread that flushes this process's counts every ``seconds``,
    and once more when stopped: the API process's own, so that its counts
    reach the database whether or not a worker loop runs beside it."""

    def __init__(self, db: Database, seconds: float) -> None:
        self.db = db
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="sceau-sla-flush", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread, then flush what is left (at shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._flush()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            self._flush()

    def _flush(self) -> None:
        try:
            recorder_for(self.db).flush(self.db)
        except Exception as exc:
            # The database may be away for a moment: the counts are kept for
            # the next flush, and the thread must outlive the failure. That
            # is one line, without the statement's parameters; a bug, a trace.
            failure = storage_failure(exc)
            if failure is None or failure.log_trace:
                logger.exception("sla.flush_failed")
            else:
                logger.warning(
                    "sla.flush_failed",
                    extra={"code": failure.code, "reason": storage_reason(exc)},
                )


# -- storage ---------------------------------------------------------------------


def _insert(session: Session, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def add_request_minutes(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Add each row's counts to the stored minute (created when missing)."""
    rows = list(rows)
    if not rows:
        return
    table = RequestMinute.__table__
    counts = ("requests", "server_errors", *BUCKET_COLUMNS)
    for first in range(0, len(rows), ROWS_PER_INSERT):
        statement = _insert(session, table).values(
            rows[first : first + ROWS_PER_INSERT]
        )
        statement = statement.on_conflict_do_update(
            index_elements=["client_id", "minute", "kind"],
            set_={name: table.c[name] + statement.excluded[name] for name in counts},
        )
        session.execute(statement)


def record_heartbeat(session: Session, minute: datetime, *, healthy: bool) -> None:
    """Say how the health check went in ``minute``: the minute stays healthy
    only if every check in it was (so repeating a beat changes nothing)."""
    table = Heartbeat.__table__
    statement = _insert(session, table).values(
        minute=minute_of(minute), healthy=healthy
    )
    statement = statement.on_conflict_do_update(
        index_elements=["minute"],
        set_={"healthy": and_(table.c.healthy, statement.excluded.healthy)},
    )
    session.execute(statement)


# -- the worker's chore ----------------------------------------------------------


def beat(
    db: Database, pki: Callable[[], ServicePki], *, now: datetime | None = None
) -> bool:
    """Run the health checks and record this minute's heartbeat."""
    checks = health_checks(db, pki)
    healthy = all(value == "ok" for value in checks.values())
    with db.transaction() as session:
        record_heartbeat(session, now or utcnow(), healthy=healthy)
    if not healthy:
        logger.warning("sla.heartbeat_unhealthy", extra=checks)
    return healthy


def sla_chore(db: Database, settings: Settings) -> Callable[[], None]:
    """What a worker loop runs every ``SCEAU_SLA_CHORE_SECONDS``: flush this
    process's request counts, then beat."""
    pki = _pki_loader(db, settings)

    def run() -> None:
        try:
            recorder_for(db).flush(db)
        finally:
            # The heartbeat must not wait on a flush that failed: a missing
            # beat counts the minute as unavailable.
            beat(db, pki)

    return run


def _pki_loader(db: Database, settings: Settings) -> Callable[[], ServicePki]:
    loaded: list[ServicePki] = []

    def load() -> ServicePki:
        if not loaded:
            if not (settings.pki_dir / "root.crt").exists():
                # Never create a PKI from a health check: a missing one fails it.
                raise FileNotFoundError(f"no PKI in {settings.pki_dir}")
            loaded.append(
                ServicePki.load_or_create(
                    settings.pki_dir,
                    KeySealer(settings.load_master_key()),
                    PkiUrls(settings.public_base_url),
                    db,
                    # Shared with the process's runtime: one login per process.
                    token=open_token(settings),
                )
            )
        return loaded[0]

    return load
