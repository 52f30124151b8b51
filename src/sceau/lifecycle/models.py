"""The recorded steps of each client's integration."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow

CADRAGE = "cadrage"
CONVENTION = "convention"
PROVISIONED = "provisionne"
PILOT = "pilote"
PRODUCTION = "production"
STATES = (CADRAGE, CONVENTION, PROVISIONED, PILOT, PRODUCTION)
MAX_ACTOR = 120
# As a French reader sees them.
STATE_NAMES = {
    CADRAGE: "cadrage",
    CONVENTION: "convention signée",
    PROVISIONED: "provisionné",
    PILOT: "pilote",
    PRODUCTION: "production",
}


class ClientStateChange(Base):
    """One step: who moved the client from which state to which, and when.

    The first row of a client has no ``from_state``: the state it was
    created in. ``agreement`` is the service agreement's parameters as JSON,
    on the step into ``convention``.
    """

    __tablename__ = "client_state_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    agreement: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
