"""One kind of act in a client's catalogue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow


class ActType(Base):
    """``code`` is what requests send as ``type_acte``; ``label`` is how the
    delegation's document and the pages name it (« polices d'assurance »)."""

    __tablename__ = "act_types"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
