"""Every certificate the service's CAs issue, so that CRLs can name revocations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow


class IssuedCertificate(Base):
    __tablename__ = "issued_certificates"

    # Serial numbers are 159-bit random integers, stored as hex text.
    serial_hex: Mapped[str] = mapped_column(String(48), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(16))  # "root", "issuing" or "access"
    subject: Mapped[str] = mapped_column(String(400))
    purpose: Mapped[str] = mapped_column(String(32))
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
