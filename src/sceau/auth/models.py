"""What authentication must remember across processes: nonces and failures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow


class HmacNonce(Base):
    """A nonce already seen for a key; the primary key refuses a replay in any
    process. Kept until its timestamp leaves the window."""

    __tablename__ = "hmac_nonces"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AuthFailure(Base):
    """One refused request, by source address, for the rate limit."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str] = mapped_column(String(48))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
