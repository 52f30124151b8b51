"""The anchoring worker: gather, submit, upgrade, confirm.

Each step is a short transaction to claim work, network calls outside any
transaction, and a short transaction to record what came back. A batch being
worked on carries a lease, so two workers (in two processes) never submit or
upgrade it at once; a worker that dies leaves a lease that simply expires.
Nothing here runs on the request path: a signature only queues its digest.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from opentimestamps.core.timestamp import Timestamp
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from sceau.anchoring import proofs
from sceau.anchoring.bitcoin import (
    AttestationMismatch,
    BlockHeader,
    HeaderSource,
    HeaderUnavailable,
    header_source_from,
    verify_attestation,
)
from sceau.anchoring.calendars import CalendarClient, CalendarError
from sceau.anchoring.models import AnchorBatch, AnchorRecord
from sceau.anchoring.service import (
    STATUS_CONFIRMED,
    STATUS_PENDING,
    STATUS_SUBMITTED,
    new_batch_id,
)
from sceau.db import Database, utcnow
from sceau.events import types as event_types
from sceau.events.service import emit
from sceau.ops.loops import step_failed
from sceau.ops.metrics import (
    ANCHOR_BITCOIN_CHECK_FAILURES,
    ANCHOR_DOCUMENTS,
    ANCHOR_SUBMISSIONS,
    ANCHOR_UPGRADES,
)
from sceau.settings import Settings
from sceau.signing.models import SignatureRecord

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
CALENDAR_ACCEPTED = "accepte"
CALENDAR_PENDING = "en_attente"
CALENDAR_REFUSED = "refuse"  # gave a Bitcoin attestation that did not verify
# A calendar that has not taken a batch's root within this time is given up
# for that batch (the batch is anchored through the others).
CALENDAR_GIVE_UP = timedelta(days=1)


@dataclass
class AnchoringPolicy:
    calendars: list[str]
    interval: timedelta
    batch_max: int
    submit_backoff_max: timedelta
    upgrade_min: timedelta
    upgrade_max: timedelta


@dataclass
class AnchoringWorker:
    db: Database
    policy: AnchoringPolicy
    calendars: CalendarClient
    headers: HeaderSource
    clock: Callable[[], datetime] = utcnow
    _headers_seen: dict[int, BlockHeader] = field(default_factory=dict)

    def run_once(self) -> int:
        """One pass of every step; the number of things that moved."""
        return self.gather() + self.submit_due() + self.upgrade_due()

    # -- gathering -------------------------------------------------------------

    def gather(self) -> int:
        """Queued digests into batches of at most ``batch_max``: one Merkle
        root, hence one submission per calendar, for all of them."""
        made = 0
        while True:
            with self.db.sessions() as session:
                queued = [
                    (ref, sha256)
                    for ref, sha256 in session.execute(
                        select(AnchorRecord.ref, AnchorRecord.sha256)
                        .where(AnchorRecord.batch_id.is_(None))
                        .order_by(AnchorRecord.created_at)
                        .limit(self.policy.batch_max)
                    )
                ]
            if not queued:
                return made
            # The tree is built outside any transaction: signing requests
            # that write meanwhile do not wait for it.
            built = proofs.build_batch([bytes.fromhex(sha) for _, sha in queued])
            if self._claim(queued, built):
                made += len(queued)
            if len(queued) < self.policy.batch_max:
                return made

    def _claim(self, queued: list[tuple[str, str]], built: proofs.Batch) -> bool:
        """Write the batch and give each digest its path, only if no other
        worker took any of them meanwhile (then it is for the next pass)."""
        now = self.clock()
        batch_id = new_batch_id(now)
        try:
            with self.db.transaction() as session:
                session.add(
                    AnchorBatch(
                        id=batch_id,
                        root=built.root.hex(),
                        size=len(queued),
                        status=STATUS_PENDING,
                        created_at=now,
                        calendars=json.dumps(
                            {
                                url: _calendar_state(CALENDAR_PENDING)
                                for url in self._calendars()
                            }
                        ),
                        next_submit_at=now,
                    )
                )
                session.flush()
                session.execute(
                    _CLAIM,
                    [
                        {"claimed": ref, "batch": batch_id, "route": path}
                        for (ref, _), path in zip(queued, built.paths, strict=True)
                    ],
                )
                taken = session.scalar(
                    select(func.count())
                    .select_from(AnchorRecord)
                    .where(AnchorRecord.batch_id == batch_id)
                )
                if taken != len(queued):
                    raise _ClaimLost()
        except _ClaimLost:
            logger.info("anchoring.claim_lost", extra={"size": len(queued)})
            return False
        ANCHOR_DOCUMENTS.labels("gathered").inc(len(queued))
        logger.info("anchoring.batch", extra={"batch": batch_id, "size": len(queued)})
        return True

    # -- submission --------------------------------------------------------------

    def submit_due(self) -> int:
        done = 0
        for batch_id in self._due(AnchorBatch.next_submit_at):
            token = self._lease(batch_id)
            if token is not None:
                done += self._submit(batch_id, token)
        return done

    def _submit(self, batch_id: str, token: str) -> int:
        batch = self._load(batch_id)
        root = bytes.fromhex(batch.root)
        states = _states(batch)
        tree = proofs.load_tree(batch.proof, root) if batch.proof else None

        answered = 0
        for url, state in states.items():
            if state["etat"] != CALENDAR_PENDING:
                continue
            state["tentatives"] += 1
            try:
                timestamp = self.calendars.submit(url, root)
            except CalendarError as exc:
                state["erreur"] = str(exc)[:200]
                ANCHOR_SUBMISSIONS.labels(url, "error").inc()
                logger.warning(
                    "anchoring.calendar_failed",
                    extra={"calendar": url, "batch": batch_id, "error": str(exc)},
                )
                continue
            tree = proofs.merge_into(tree, timestamp)
            state.update(etat=CALENDAR_ACCEPTED, erreur=None)
            answered += 1
            ANCHOR_SUBMISSIONS.labels(url, "accepted").inc()

        now = self.clock()
        accepted = any(s["etat"] == CALENDAR_ACCEPTED for s in states.values())
        waiting = [s for s in states.values() if s["etat"] == CALENDAR_PENDING]
        attempts = batch.submit_attempts + 1
        if waiting and accepted and now - batch.created_at > CALENDAR_GIVE_UP:
            for state in waiting:
                state["etat"] = "abandonne"
            waiting = []

        with self.db.transaction() as session:
            values: dict[str, Any] = {
                "calendars": json.dumps(states),
                "submit_attempts": attempts,
                "next_submit_at": (now + self._backoff(attempts) if waiting else None),
                "lease_token": None,
                "lease_until": None,
                "last_error": None if accepted else _first_error(states),
            }
            if tree is not None:
                values["proof"] = proofs.serialize_tree(tree)
            first_acceptance = accepted and batch.status == STATUS_PENDING
            if first_acceptance:
                values.update(
                    status=STATUS_SUBMITTED,
                    submitted_at=now,
                    next_upgrade_at=now + self.policy.upgrade_min,
                )
            if not self._record(session, batch_id, token, values):
                return 0
            if first_acceptance:
                session.execute(
                    update(AnchorRecord)
                    .where(AnchorRecord.batch_id == batch_id)
                    .values(status=STATUS_SUBMITTED)
                )
        return answered

    def _backoff(self, attempts: int) -> timedelta:
        # Exponential with full jitter, so that many batches waiting on the
        # same outage do not all come back in the same second.
        ceiling = min(
            self.policy.interval.total_seconds() * 2**attempts,
            self.policy.submit_backoff_max.total_seconds(),
        )
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311

    # -- upgrades and confirmation ---------------------------------------------------

    def upgrade_due(self) -> int:
        """Oldest batches first; a calendar that has nothing yet for a batch
        has nothing for the younger ones either (calendars commit in order),
        so it is not asked again in this pass: one request per calendar per
        pass while nothing is ready, however many batches wait."""
        done = 0
        not_ready: set[str] = set()
        due = self._due(AnchorBatch.next_upgrade_at, order=AnchorBatch.submitted_at)
        for batch_id in due:
            token = self._lease(batch_id)
            if token is not None:
                done += self._upgrade(batch_id, token, not_ready)
        return done

    def _upgrade(self, batch_id: str, token: str, not_ready: set[str]) -> int:
        batch = self._load(batch_id)
        root = bytes.fromhex(batch.root)
        assert batch.proof is not None  # a submitted batch has its tree
        tree = proofs.load_tree(batch.proof, root)
        states = _states(batch)
        configured = {url.rstrip("/") for url in self._calendars()}

        upgraded = 0
        for uri, commitment in proofs.pending_commitments(tree):
            calendar = uri.rstrip("/")
            # Only our own calendars are asked: a URI inside a proof is data
            # from a calendar, not an address to trust.
            if calendar not in configured or calendar in not_ready:
                continue
            if self._upgrade_one(tree, calendar, commitment, states):
                upgraded += 1
            else:
                not_ready.add(calendar)

        confirmation = self._confirmation(tree)
        now = self.clock()
        age = now - (batch.submitted_at or now)
        with self.db.transaction() as session:
            values: dict[str, Any] = {
                "proof": proofs.serialize_tree(tree),
                "calendars": json.dumps(states),
                "lease_token": None,
                "lease_until": None,
            }
            if confirmation is None:
                values["next_upgrade_at"] = now + self._upgrade_delay(age)
            else:
                header, time = confirmation
                values.update(
                    status=STATUS_CONFIRMED,
                    next_upgrade_at=None,
                    block_height=header.height,
                    block_time=time,
                    block_hash=header.hash_hex,
                    confirmed_at=now,
                    last_error=None,
                )
            if not self._record(session, batch_id, token, values):
                return 0
            if confirmation is not None:
                self._confirm(session, batch_id, *confirmation)
        return upgraded + (1 if confirmation else 0)

    def _upgrade_one(
        self,
        tree: Timestamp,
        calendar: str,
        commitment: bytes,
        states: dict[str, dict[str, Any]],
    ) -> bool:
        try:
            upgrade = self.calendars.upgrade(calendar, commitment)
        except CalendarError as exc:
            ANCHOR_UPGRADES.labels("error").inc()
            logger.warning(
                "anchoring.upgrade_failed",
                extra={"calendar": calendar, "error": str(exc)},
            )
            return False
        if upgrade is None:
            ANCHOR_UPGRADES.labels("pending").inc()
            return False

        # An upgrade is merged only once each Bitcoin attestation in it checks
        # out against a block header: a proof handed out never carries an
        # attestation that failed.
        for height, digest in proofs.bitcoin_attestations(upgrade):
            try:
                self._verified(height, digest)
            except HeaderUnavailable as exc:
                logger.warning(
                    "anchoring.header_unavailable",
                    extra={"height": height, "error": str(exc)},
                )
                return False
            except AttestationMismatch:
                ANCHOR_BITCOIN_CHECK_FAILURES.inc()
                logger.error(
                    "anchoring.bitcoin_check_failed",
                    extra={"calendar": calendar, "height": height},
                )
                for url, state in states.items():
                    if url.rstrip("/") == calendar:
                        state["erreur"] = f"attestation Bitcoin refusée (bloc {height})"
                return False

        node = proofs.subtree_at(tree, commitment)
        if node is None:
            return False
        node.merge(upgrade)
        ANCHOR_UPGRADES.labels("upgraded").inc()
        for url, state in states.items():
            if url.rstrip("/") == calendar and proofs.bitcoin_attestations(upgrade):
                state.update(etat="confirme", erreur=None)
        return True

    def _confirmation(self, tree: Timestamp) -> tuple[BlockHeader, datetime] | None:
        """The earliest Bitcoin attestation of the tree, checked again."""
        for height, digest in proofs.bitcoin_attestations(tree):
            try:
                time = self._verified(height, digest)
                return self._headers_seen[height], time
            except (HeaderUnavailable, AttestationMismatch):
                continue
        return None

    def _header(self, height: int) -> BlockHeader:
        return self._headers_seen.get(height) or self.headers.header_at(height)

    def _verified(self, height: int, digest: bytes) -> datetime:
        """The block time, once the block at ``height`` has ``digest`` as its
        Merkle root. Only headers that passed are remembered: one that failed
        (a source that lied or broke) is asked for again next time."""
        header = self._header(height)
        time = verify_attestation(height, digest, header)
        self._headers_seen[height] = header
        return time

    def _upgrade_delay(self, age: timedelta) -> timedelta:
        # Young proofs are asked about often, old ones rarely: a block comes
        # about every ten minutes, calendars aggregate for a few hours.
        delay = max(self.policy.upgrade_min, age / 6)
        return min(delay, self.policy.upgrade_max)

    def _confirm(
        self, session: Session, batch_id: str, header: BlockHeader, time: datetime
    ) -> None:
        session.execute(
            update(AnchorRecord)
            .where(AnchorRecord.batch_id == batch_id)
            .values(status=STATUS_CONFIRMED)
        )
        rows = session.execute(
            select(AnchorRecord, SignatureRecord.ref, SignatureRecord.callback_url)
            .outerjoin(
                SignatureRecord, SignatureRecord.ref_horodatage == AnchorRecord.ref
            )
            .where(AnchorRecord.batch_id == batch_id)
        ).all()
        for anchor, signature_ref, callback_url in rows:
            emit(
                session,
                client_id=anchor.client_id,
                type=event_types.HORODATAGE_CONFIRME,
                data={
                    "ref_horodatage": anchor.ref,
                    "ref_signature": signature_ref,
                    "sha256_signe": anchor.sha256,
                    "statut": STATUS_CONFIRMED,
                    "bloc": {
                        "hauteur": header.height,
                        "hash": header.hash_hex,
                        "horodatage": time.isoformat(),
                    },
                },
                callback_url=callback_url,
            )
        ANCHOR_DOCUMENTS.labels("confirmed").inc(len(rows))
        logger.info(
            "anchoring.confirmed",
            extra={"batch": batch_id, "height": header.height, "size": len(rows)},
        )

    # -- leases ------------------------------------------------------------------

    def _calendars(self) -> list[str]:
        return list(dict.fromkeys(self.policy.calendars))

    def _due(self, column: Any, order: Any = None) -> list[str]:
        now = self.clock()
        with self.db.sessions() as session:
            return list(
                session.scalars(
                    select(AnchorBatch.id)
                    .where(
                        column.is_not(None),
                        column <= now,
                        or_(
                            AnchorBatch.lease_until.is_(None),
                            AnchorBatch.lease_until < now,
                        ),
                    )
                    .order_by(column if order is None else order)
                    .limit(100)
                )
            )

    def _lease(self, batch_id: str) -> str | None:
        """Take the batch for this worker, or None if another one has it."""
        now = self.clock()
        token = secrets.token_hex(8)
        with self.db.transaction() as session:
            taken = session.execute(
                update(AnchorBatch)
                .where(
                    AnchorBatch.id == batch_id,
                    or_(
                        AnchorBatch.lease_until.is_(None), AnchorBatch.lease_until < now
                    ),
                )
                .values(lease_token=token, lease_until=now + LEASE)
            )
        return token if getattr(taken, "rowcount", 0) == 1 else None

    def _record(
        self, session: Session, batch_id: str, token: str, values: dict[str, Any]
    ) -> bool:
        written = session.execute(
            update(AnchorBatch)
            .where(AnchorBatch.id == batch_id, AnchorBatch.lease_token == token)
            .values(**values)
        )
        if getattr(written, "rowcount", 0) != 1:
            logger.warning("anchoring.lease_lost", extra={"batch": batch_id})
            return False
        return True

    def _load(self, batch_id: str) -> AnchorBatch:
        with self.db.sessions() as session:
            batch = session.get(AnchorBatch, batch_id)
            assert batch is not None
            session.expunge(batch)
            return batch


class _ClaimLost(Exception):
    """Another worker batched some of the same digests first."""


# Only rows still unbatched are claimed: the count afterwards tells whether
# another worker got there first.
_CLAIM = (
    update(AnchorRecord.__table__)  # type: ignore[arg-type]
    .where(
        AnchorRecord.__table__.c.ref == bindparam("claimed"),
        AnchorRecord.__table__.c.batch_id.is_(None),
    )
    .values(batch_id=bindparam("batch"), path=bindparam("route"))
)


def _calendar_state(state: str) -> dict[str, Any]:
    return {"etat": state, "erreur": None, "tentatives": 0}


def _states(batch: AnchorBatch) -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = json.loads(batch.calendars or "{}")
    return loaded


def _first_error(states: dict[str, dict[str, Any]]) -> str | None:
    errors = [f"{url}: {s['erreur']}" for url, s in states.items() if s.get("erreur")]
    return "; ".join(errors)[:400] or None


def anchoring_worker_for(db: Database, settings: Settings) -> AnchoringWorker:
    return AnchoringWorker(
        db=db,
        policy=AnchoringPolicy(
            calendars=list(settings.anchor_calendars),
            interval=timedelta(seconds=settings.anchor_interval_seconds),
            batch_max=settings.anchor_batch_max,
            submit_backoff_max=timedelta(
                seconds=settings.anchor_submit_backoff_max_seconds
            ),
            upgrade_min=timedelta(seconds=settings.anchor_upgrade_min_seconds),
            upgrade_max=timedelta(seconds=settings.anchor_upgrade_max_seconds),
        ),
        calendars=CalendarClient(timeout=settings.anchor_calendar_timeout_seconds),
        headers=header_source_from(
            settings.anchor_header_source, settings.anchor_calendar_timeout_seconds
        ),
    )


class AnchoringLoop:
    """The worker in a thread, one pass per interval whatever it found: the
    interval is what gathers many digests under one submission."""

    def __init__(self, worker: AnchoringWorker, interval: float) -> None:
        self.worker = worker
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="sceau-anchoring", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        logger.info("anchoring.started")
        failures = 0
        pause = self.interval
        while not self._stop.wait(pause):
            try:
                self.worker.run_once()
            except Exception as exc:
                # The database or a calendar may be away for a moment; the
                # loop outlives it, and leases make a half-done step safe.
                failures += 1
                pause = max(
                    self.interval, step_failed(logger, "anchoring", exc, failures)
                )
                continue
            if failures:
                logger.warning("anchoring.recovered", extra={"failed_steps": failures})
            failures = 0
            pause = self.interval
        logger.info("anchoring.stopped")

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
