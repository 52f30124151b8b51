"""Incidents and the log of what was said about them."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow

STATUS_OPEN = "ouvert"
STATUS_CLOSED = "clos"


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    impact: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default=STATUS_OPEN)
    # JSON list of client ids; null means every client.
    scope: Mapped[str | None] = mapped_column(Text, nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def client_ids(self) -> list[str] | None:
        if self.scope is None:
            return None
        ids: list[str] = json.loads(self.scope)
        return ids


class IncidentUpdate(Base):
    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    # The event type this update was told as (incident.ouvert, …).
    kind: Mapped[str] = mapped_column(String(48))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
