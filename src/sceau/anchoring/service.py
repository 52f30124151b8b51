"""Anchoring records: queued in the signing transaction, read back by their
owner (``HRD-…``) or by anyone through the document's SHA-256."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from sceau.anchoring import proofs
from sceau.anchoring.errors import AnchorNotFound, ProofNotReady
from sceau.anchoring.models import AnchorBatch, AnchorRecord

REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
STATUS_PENDING = "en_attente"
STATUS_SUBMITTED = "soumis"
STATUS_CONFIRMED = "confirme"


def new_anchor_ref() -> str:
    return "HRD-" + "".join(secrets.choice(REF_ALPHABET) for _ in range(8))


def new_batch_id(now: datetime) -> str:
    return f"LOT-{now:%Y%m%d}-" + "".join(
        secrets.choice(REF_ALPHABET) for _ in range(8)
    )


def queue_for_anchoring(session: Session, *, client_id: str, sha256: str) -> str:
    """Record the digest as waiting for anchoring and return its ``HRD-…``."""
    ref = new_anchor_ref()
    session.add(
        AnchorRecord(ref=ref, client_id=client_id, sha256=sha256, status=STATUS_PENDING)
    )
    return ref


@dataclass(frozen=True)
class AnchorView:
    record: AnchorRecord
    batch: AnchorBatch | None

    @property
    def calendars(self) -> dict[str, dict[str, Any]]:
        if self.batch is None:
            return {}
        loaded: dict[str, dict[str, Any]] = json.loads(self.batch.calendars or "{}")
        return loaded


def get_anchor(session: Session, client_id: str, ref: str) -> AnchorView:
    record = session.get(AnchorRecord, ref)
    if record is None or record.client_id != client_id:
        raise AnchorNotFound()
    return _view(session, record)


def find_by_digest(session: Session, sha256: str) -> AnchorView:
    """The most advanced anchoring of a document, for the public page."""
    ranking = case(
        (AnchorRecord.status == STATUS_CONFIRMED, 0),
        (AnchorRecord.status == STATUS_SUBMITTED, 1),
        else_=2,
    )
    record = session.scalar(
        select(AnchorRecord)
        .where(AnchorRecord.sha256 == sha256.lower())
        .order_by(ranking, AnchorRecord.created_at)
        .limit(1)
    )
    if record is None:
        raise AnchorNotFound(
            "Aucun ancrage ne porte sur un document de cette empreinte SHA-256."
        )
    return _view(session, record)


def _view(session: Session, record: AnchorRecord) -> AnchorView:
    batch = session.get(AnchorBatch, record.batch_id) if record.batch_id else None
    return AnchorView(record, batch)


def ots_file(view: AnchorView) -> bytes:
    """The document's ``.ots`` proof, as ``ots info`` and ``ots verify`` read it."""
    batch, record = view.batch, view.record
    if batch is None or batch.proof is None or record.path is None:
        raise ProofNotReady()
    return proofs.document_proof(
        bytes.fromhex(record.sha256),
        record.path,
        batch.proof,
        bytes.fromhex(batch.root),
    )


def anchoring_status(session: Session) -> dict[str, Any]:
    """What the operator needs: queue, last submission, counts, calendars."""
    counts = dict(
        session.execute(
            select(AnchorRecord.status, func.count()).group_by(AnchorRecord.status)
        ).all()
    )
    queued = session.scalar(
        select(func.count())
        .select_from(AnchorRecord)
        .where(AnchorRecord.batch_id.is_(None))
    )
    last = session.scalar(select(func.max(AnchorBatch.submitted_at)))
    waiting = session.scalar(
        select(func.count())
        .select_from(AnchorBatch)
        .where(AnchorBatch.status == STATUS_PENDING)
    )
    health: dict[str, dict[str, Any]] = {}
    recent = session.scalars(
        select(AnchorBatch).order_by(AnchorBatch.created_at.desc()).limit(20)
    )
    for batch in recent:
        for url, state in json.loads(batch.calendars or "{}").items():
            entry = health.setdefault(
                url, {"accepte": 0, "en_echec": 0, "erreur": None}
            )
            if state["etat"] in ("accepte", "confirme"):
                entry["accepte"] += 1
            elif state.get("erreur"):
                entry["en_echec"] += 1
                entry["erreur"] = entry["erreur"] or state["erreur"]
    return {
        "file_attente": int(queued or 0),
        "lots_non_soumis": int(waiting or 0),
        "derniere_soumission": last.isoformat() if last else None,
        "en_attente": int(counts.get(STATUS_PENDING, 0)),
        "soumis": int(counts.get(STATUS_SUBMITTED, 0)),
        "confirmes": int(counts.get(STATUS_CONFIRMED, 0)),
        "calendriers": health,
    }
