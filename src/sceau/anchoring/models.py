"""Anchoring records (``HRD-…``): one per signed document, queued at signing.

Submission to OpenTimestamps calendars and the Bitcoin confirmation are done by
the anchoring workers; the signing transaction only queues the digest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow


class AnchorRecord(Base):
    __tablename__ = "anchors"

    ref: Mapped[str] = mapped_column(String(16), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="en_attente", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
