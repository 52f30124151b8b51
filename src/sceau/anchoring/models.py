"""Anchoring records (``HRD-…``), one per signed document, and the batches
whose Merkle root goes to the OpenTimestamps calendars.

The signing transaction only queues the digest; the anchoring worker gathers
queued digests into a batch, submits the root, asks for upgrades, and checks
the Bitcoin attestation before anything is called confirmed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow


class AnchorRecord(Base):
    __tablename__ = "anchors"

    ref: Mapped[str] = mapped_column(String(16), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # en_attente (queued or no calendar has answered), soumis, confirme.
    status: Mapped[str] = mapped_column(String(16), default="en_attente", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    batch_id: Mapped[str | None] = mapped_column(
        ForeignKey("anchor_batches.id"), nullable=True, index=True
    )
    # The operations from the document's digest to the batch's root.
    path: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class AnchorBatch(Base):
    """Digests gathered in one interval: one submission per calendar."""

    __tablename__ = "anchor_batches"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    root: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="en_attente", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The serialized OpenTimestamps tree rooted at ``root``: calendars'
    # pending attestations, then, after upgrades, the Bitcoin attestation.
    proof: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # JSON: per calendar URL, {"etat": "en_attente"|"accepte"|"confirme",
    # "erreur": str|None, "tentatives": int}.
    calendars: Mapped[str] = mapped_column(Text, default="{}")
    submit_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_submit_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True, index=True
    )
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_upgrade_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True, index=True
    )
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    block_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    block_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    block_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(400), nullable=True)
