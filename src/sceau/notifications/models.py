"""Who to tell about a client, and how: two columns of the ``clients`` table.

They belong to notifications, not to the clients domain, so they are mapped
here, on the same table, by a class that sees only them.
"""

from __future__ import annotations

from sqlalchemy import Column, String, Table
from sqlalchemy.orm import Mapped

from sceau.clients.models import Client
from sceau.db import Base

CHANNEL_WEBHOOK = "webhook"
CHANNEL_EMAIL = "email"
CHANNEL_BOTH = "both"
INCIDENT_CHANNELS = (CHANNEL_WEBHOOK, CHANNEL_EMAIL, CHANNEL_BOTH)

_clients = Table(
    Client.__tablename__,
    Base.metadata,
    Column("contact_email", String(320), nullable=True),
    Column(
        "incident_channel",
        String(8),
        nullable=False,
        default=CHANNEL_BOTH,
        server_default=CHANNEL_BOTH,
    ),
    extend_existing=True,
)


class ClientContact(Base):
    __table__ = _clients
    __mapper_args__ = {  # noqa: RUF012
        "include_properties": ["id", "name", "contact_email", "incident_channel"]
    }

    id: Mapped[str]
    name: Mapped[str]
    contact_email: Mapped[str | None]
    incident_channel: Mapped[str]
