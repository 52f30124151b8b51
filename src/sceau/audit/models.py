"""The audit trail's tables: the entries, the head of their chain, and the
anchors that fix the head in time.

``audit_entries`` is append-only: the application never updates or deletes a
row, and the database refuses it too (a trigger, from migration 0018), so that
a rewrite takes a deliberate act, and ``sceau audit verify`` still finds it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow

GENESIS = "0" * 64


class AuditEntry(Base):
    """One act of consequence.

    ``body`` is the canonical JSON the chain hashes (``hash`` is its SHA-256);
    it names the previous entry's hash. The other columns repeat fields of the
    body for look-ups, and verification checks they still agree with it.
    ``seq`` is the entry's place, given out by the head, without gaps. The
    subject is found through ``audit_refs``, which names it too: one index
    less to write in every signing transaction.
    """

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(48))
    client_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The last entry written: one row, locked by every append, so that
    entries get their places one after the other across processes."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditAnchor(Base):
    """The head at one moment, timestamped by the TSA and queued for
    OpenTimestamps like a signed document (``anchor_ref`` is its ``HRD-…``)."""

    __tablename__ = "audit_anchors"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The RFC 3161 token over ``hash`` (as the message imprint, SHA-256).
    tsa_token: Mapped[bytes] = mapped_column(LargeBinary)
    tsa_time: Mapped[datetime] = mapped_column(UTCDateTime())
    anchor_ref: Mapped[str] = mapped_column(String(16), index=True)


class AuditRef(Base):
    """Which entries name a reference (a signature, an act, a person…): the
    look-up the evidence file makes. An index, not evidence: what it points to
    is checked against the chain."""

    __tablename__ = "audit_refs"

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
