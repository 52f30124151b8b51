"""An act waiting for its person, and the document it asks them to sign."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow

STATUS_PENDING = "en_attente"
STATUS_SIGNED = "signe"
STATUS_REFUSED = "refuse"
STATUS_EXPIRED = "expire"
STATUS_CANCELLED = "annule"
STATUSES = (
    STATUS_PENDING,
    STATUS_SIGNED,
    STATUS_REFUSED,
    STATUS_EXPIRED,
    STATUS_CANCELLED,
)


class Act(Base):
    """One request for a person's signature.

    ``status`` leaves ``en_attente`` once, by a conditional UPDATE, so that a
    signature, a refusal, a cancellation and the sweeper cannot both win.
    ``reminders_sent`` counts the reminder thresholds already passed (see
    ``SCEAU_ACT_REMINDER_HOURS``), each one e-mailed once.
    """

    __tablename__ = "acts"
    __table_args__ = (Index("ix_acts_status_expires_at", "status", "expires_at"),)

    ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    code_09: Mapped[str] = mapped_column(String(40))
    signer_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(8))
    sha256_source: Mapped[str] = mapped_column(String(64))
    size_source: Mapped[int] = mapped_column(Integer)
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    refusal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    signature_ref: Mapped[str | None] = mapped_column(
        ForeignKey("signatures.ref"), nullable=True
    )
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str] = mapped_column(String(64))
    api_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Declared by the client; the authority matrix reads them.
    act_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    matrix_version: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ActDocument(Base):
    """The bytes to sign, apart from the act so that listings stay light."""

    __tablename__ = "act_documents"

    ref: Mapped[str] = mapped_column(ForeignKey("acts.ref"), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
