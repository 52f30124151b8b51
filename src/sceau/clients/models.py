"""Organisations that call the API, and the credentials of each level."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(40), default="pay_as_you_go")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The level every request of this client must meet: "A", "B" or "C".
    auth_level: Mapped[str] = mapped_column(String(1), default="A", server_default="A")
    # Level C: the source networks allowed, as CIDRs separated by spaces.
    ip_allowlist: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The integration's step (sceau.lifecycle): a new client starts at
    # "cadrage"; only pilot and production may sign through the API.
    state: Mapped[str] = mapped_column(String(16), default="cadrage")
    # The service agreement's parameters as JSON, once in "convention".
    service_agreement: Mapped[str | None] = mapped_column(Text, nullable=True)


class ApiKey(Base):
    """An API key, kept as its SHA-256 only: the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(24))
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set when a newer key replaced this one: valid until then (the overlap).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HmacSecret(Base):
    """A level-B secret. Sealed, not hashed: the server recomputes the MAC."""

    __tablename__ = "hmac_secrets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ClientCertificate(Base):
    """A level-C certificate, bound to its client by its SHA-256 fingerprint."""

    __tablename__ = "client_certificates"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    serial_hex: Mapped[str] = mapped_column(String(48), unique=True)
    subject: Mapped[str] = mapped_column(String(400))
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
