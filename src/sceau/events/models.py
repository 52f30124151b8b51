"""The outbox: events, one delivery per destination, and every attempt."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow

STATUS_PENDING = "en_attente"
STATUS_DELIVERED = "livre"
STATUS_FAILED = "echec"  # every attempt of the schedule failed
STATUS_ABANDONED = "abandonne"  # the endpoint was disabled or removed
DELIVERY_STATUSES = (STATUS_PENDING, STATUS_DELIVERED, STATUS_FAILED, STATUS_ABANDONED)

CHANNEL_WEBHOOK = "webhook"
CHANNEL_EMAIL = "email"


class Event(Base):
    """Something that happened, written in the transaction that made it happen.

    ``payload`` is the exact JSON body every webhook attempt sends, fixed once
    so that retries and redeliveries carry the same bytes.
    """

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    # Few indexes: every one is written in every signing transaction.
    type: Mapped[str] = mapped_column(String(48))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    # What the event is about (a signature ref, an incident id…), for look-ups.
    subject: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.payload)["data"]
        return data


class Delivery(Base):
    """One event to one destination (a webhook endpoint or an e-mail address).

    Deliveries of one ``destination`` are made in ``seq`` order, one at a time:
    a delivery waits while an earlier one to the same destination is pending.
    A worker holds a delivery through its lease (``lease_token`` until
    ``lease_expires_at``); an expired lease is a crashed worker's, and the
    delivery is taken again.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_destination", "destination", "status", "seq"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    event_seq: Mapped[int] = mapped_column(ForeignKey("events.seq"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    # Found through ``destination`` (the endpoint's id for webhooks).
    endpoint_id: Mapped[str | None] = mapped_column(
        ForeignKey("webhook_endpoints.id"), nullable=True
    )
    recipient: Mapped[str | None] = mapped_column(String(320), nullable=True)
    destination: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(16), default=STATUS_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True
    )
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_seq: Mapped[int] = mapped_column(ForeignKey("deliveries.seq"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_ms: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
