"""The record of every signature, and the signed file kept for its retention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow


class SignatureRecord(Base):
    __tablename__ = "signatures"
    # A client's signatures of a day or a month: the pilot's daily cap, the
    # SLA's signing times.
    __table_args__ = (
        Index("ix_signatures_client_id_signed_at", "client_id", "signed_at"),
    )

    ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    code_09: Mapped[str] = mapped_column(ForeignKey("identities.code_09"))
    mode: Mapped[str] = mapped_column(String(16))  # systeme, deleguee, humaine
    level: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    signer_name: Mapped[str] = mapped_column(String(200))
    sha256_source: Mapped[str] = mapped_column(String(64))
    sha256_signed: Mapped[str] = mapped_column(String(64), index=True)
    size_source: Mapped[int] = mapped_column(Integer)
    size_signed: Mapped[int] = mapped_column(Integer)
    ref_horodatage: Mapped[str] = mapped_column(String(16), index=True)
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str] = mapped_column(String(64))
    api_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    keep_until: Mapped[datetime] = mapped_column(UTCDateTime())
    # What the request declared, when it did (delegated signing requires it;
    # the authority matrix reads it), and what allowed the signature.
    act_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    delegation_ref: Mapped[str | None] = mapped_column(
        ForeignKey("delegations.ref"), nullable=True, index=True
    )
    matrix_version: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SignedDocument(Base):
    """The signed bytes, apart from the record so listings stay light."""

    __tablename__ = "signed_documents"

    ref: Mapped[str] = mapped_column(ForeignKey("signatures.ref"), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
