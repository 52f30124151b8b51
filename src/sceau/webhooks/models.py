"""Webhook endpoints: registered by a client (or its operator), or made from a
``callback_url`` given on a request."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow

ORIGIN_REGISTERED = "enregistre"
ORIGIN_CALLBACK = "callback_url"


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16), default=ORIGIN_REGISTERED)
    # JSON list of event types; empty means every type. A callback endpoint
    # receives only the events of the requests that named it.
    event_types: Mapped[str] = mapped_column(Text, default="[]")
    # Sealed under the master key; made on first need for callback endpoints,
    # which are created where no key is at hand (inside a signing transaction).
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    previous_secret_sealed: Mapped[bytes | None] = mapped_column(
        LargeBinary, nullable=True
    )
    previous_secret_until: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def types(self) -> list[str]:
        types: list[str] = json.loads(self.event_types)
        return types

    def receives(self, event_type: str) -> bool:
        types = self.types
        return not types or event_type in types
