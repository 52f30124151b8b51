"""Fixing the audit trail's head in time: an RFC 3161 token from the TSA at
once, and an OpenTimestamps anchoring in Bitcoin, queued like a signed
document's (an ``HRD-…`` of the service's own client).

Once a head is anchored, no one can rewrite the trail up to it without the
anchor showing it: the token is signed by the TSA, and the Bitcoin block
cannot be made again. What was written after the last anchor is protected by
the chain alone, hence the anchoring every day (``audit_anchor_interval_seconds``)
and ``sceau audit anchor`` at will.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sceau.anchoring.errors import ProofNotReady
from sceau.anchoring.models import AnchorBatch, AnchorRecord
from sceau.anchoring.service import AnchorView, ots_file, queue_for_anchoring
from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.chain import ANCHOR, Finding
from sceau.audit.models import AuditAnchor, AuditEntry
from sceau.audit.service import entry_reference, head, record
from sceau.audit.tokens import TokenInvalid, check_token
from sceau.db import Database, utcnow
from sceau.runtime import Runtime
from sceau.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnchorState:
    seq: int
    hash: str
    created_at: datetime
    tsa_time: datetime
    anchor_ref: str
    # en_attente, soumis or confirme, as for a document.
    status: str
    block_height: int | None

    def as_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "reference": entry_reference(self.seq),
            "hash": self.hash,
            "created_at": self.created_at.isoformat(),
            "tsa_time": self.tsa_time.isoformat(),
            "ref_horodatage": self.anchor_ref,
            "status": self.status,
            "block_height": self.block_height,
        }


def anchor_is_due(session: Session, interval: timedelta, now: datetime) -> bool:
    """Entries were written since the last anchor, and it is old enough."""
    last = session.execute(
        select(AuditAnchor.seq, AuditAnchor.created_at)
        .order_by(AuditAnchor.seq.desc())
        .limit(1)
    ).first()
    if last is None:
        return head(session)[0] > 0
    return last.created_at + interval <= now and _written_since(session, last.seq)


def _written_since(session: Session, seq: int) -> bool:
    """Entries after ``seq`` other than the anchorings' own: an anchor of a
    head that records nothing but the last anchoring would add nothing."""
    return (
        session.scalar(
            select(AuditEntry.seq)
            .where(AuditEntry.seq > seq, AuditEntry.action != actions.JOURNAL_ANCRE)
            .limit(1)
        )
        is not None
    )


def anchor_head(runtime: Runtime, *, now: datetime | None = None) -> AnchorState | None:
    """Timestamp the head and queue it for anchoring; ``None`` when there is
    nothing new to anchor (or another process anchored this head first)."""
    # Imported here: the service's identity is the signing pipeline's, which
    # the rest of this package does not need.
    from sceau.documents.sealing import SERVICE_CLIENT_ID, service_identity

    # The anchoring record belongs to the service's client, made (and
    # recorded in the trail) before the head is read.
    service_identity(runtime)
    with runtime.db.sessions() as session:
        seq, hash_ = head(session)
        last = session.scalar(select(func.max(AuditAnchor.seq)))
        if seq == 0 or (last is not None and not _written_since(session, last)):
            return None
    token = _timestamp(runtime, bytes.fromhex(hash_))
    checked = check_token(token, bytes.fromhex(hash_))
    moment = now or utcnow()
    try:
        with runtime.db.transaction() as session:
            anchor_ref = queue_for_anchoring(
                session, client_id=SERVICE_CLIENT_ID, sha256=hash_
            )
            session.add(
                AuditAnchor(
                    seq=seq,
                    hash=hash_,
                    created_at=moment,
                    tsa_token=token,
                    tsa_time=checked.gen_time,
                    anchor_ref=anchor_ref,
                )
            )
            record(
                session,
                actions.JOURNAL_ANCRE,
                actor=Actor.service(),
                subject=entry_reference(seq),
                objects={"horodatage": anchor_ref},
                hashes={"tete": hash_},
                details={"seq": seq, "horodatage_tsa": checked.gen_time},
                now=moment,
            )
    except IntegrityError:
        logger.info("audit.anchor_race_lost", extra={"seq": seq})
        return None
    logger.info("audit.anchored", extra={"seq": seq, "ref_horodatage": anchor_ref})
    return AnchorState(
        seq=seq,
        hash=hash_,
        created_at=moment,
        tsa_time=checked.gen_time,
        anchor_ref=anchor_ref,
        status="en_attente",
        block_height=None,
    )


def anchor_chore(db: Database, settings: Settings) -> Callable[[], int]:
    """What a worker loop runs: anchor the head when it is due."""
    runtimes: list[Runtime] = []
    interval = timedelta(seconds=settings.audit_anchor_interval_seconds)

    def run() -> int:
        with db.sessions() as session:
            if not anchor_is_due(session, interval, utcnow()):
                return 0
        if not runtimes:
            # As for invoices: the TSA and the service's identity need the
            # PKI, built once, on the loop's own database.
            runtime = Runtime(settings)
            runtime.db.dispose()
            runtime.db = db
            runtimes.append(runtime)
        return 1 if anchor_head(runtimes[0]) is not None else 0

    return run


def anchor_states(session: Session) -> list[AnchorState]:
    rows = session.execute(
        select(AuditAnchor, AnchorRecord, AnchorBatch)
        .join(AnchorRecord, AnchorRecord.ref == AuditAnchor.anchor_ref, isouter=True)
        .join(AnchorBatch, AnchorBatch.id == AnchorRecord.batch_id, isouter=True)
        .order_by(AuditAnchor.seq)
    )
    return [
        AnchorState(
            seq=anchor.seq,
            hash=anchor.hash,
            created_at=anchor.created_at,
            tsa_time=anchor.tsa_time,
            anchor_ref=anchor.anchor_ref,
            status=record_.status if record_ is not None else "introuvable",
            block_height=batch.block_height if batch is not None else None,
        )
        for anchor, record_, batch in rows
    ]


def anchor_proof(session: Session, seq: int) -> tuple[bytes, bytes | None]:
    """The anchored head's RFC 3161 token, and its ``.ots`` proof (``None``
    while no calendar has answered for it). ``LookupError`` for a place never
    anchored."""
    anchor = session.get(AuditAnchor, seq)
    if anchor is None:
        raise LookupError(seq)
    anchored = session.get(AnchorRecord, anchor.anchor_ref)
    if anchored is None:
        return anchor.tsa_token, None
    batch = session.get(AnchorBatch, anchored.batch_id) if anchored.batch_id else None
    try:
        proof = ots_file(AnchorView(record=anchored, batch=batch))
    except ProofNotReady:
        return anchor.tsa_token, None
    return anchor.tsa_token, proof


def check_anchors(session: Session) -> tuple[list[AnchorState], list[Finding]]:
    """Every anchor against the entry it fixed, its token and its record."""
    findings: list[Finding] = []
    states = anchor_states(session)
    anchors = {a.seq: a for a in session.scalars(select(AuditAnchor))}
    for state in states:
        anchor = anchors[state.seq]
        stored = session.get(AuditEntry, state.seq)
        when = state.tsa_time.strftime("%Y-%m-%d %H:%M:%S UTC")
        if stored is None or stored.hash != anchor.hash:
            findings.append(
                Finding(
                    ANCHOR,
                    state.seq,
                    f"entry {state.seq} is not the one anchored at {when}: the "
                    f"trail was rewritten at or before entry {state.seq}",
                )
            )
        try:
            check_token(anchor.tsa_token, bytes.fromhex(anchor.hash))
        except TokenInvalid as exc:
            findings.append(
                Finding(ANCHOR, state.seq, f"anchor of entry {state.seq}: {exc}")
            )
        anchored = session.get(AnchorRecord, anchor.anchor_ref)
        if anchored is None or anchored.sha256 != anchor.hash:
            findings.append(
                Finding(
                    ANCHOR,
                    state.seq,
                    f"anchor of entry {state.seq}: its OpenTimestamps record "
                    f"{anchor.anchor_ref} is missing or over another hash",
                )
            )
    return states, findings


def anchored_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditAnchor)) or 0)


def _timestamp(runtime: Runtime, digest: bytes) -> bytes:
    # The engine's time-stamper (the embedded TSA, or the external ones with
    # their fallback), run on a loop of this thread's own: the caller is a
    # worker thread or the CLI, never the server's event loop.
    timestamper = runtime.engine.timestamper
    token = asyncio.run(timestamper.async_timestamp(digest, "sha256"))
    return bytes(token.dump())
