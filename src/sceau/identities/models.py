"""Identities in whose name documents are signed: systems and persons."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow


class Identity(Base):
    __tablename__ = "identities"

    code_09: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "systeme" (09S) or "personne" (09)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    key_algorithm: Mapped[str] = mapped_column(String(16))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    # The private key: sealed under the master key (see pki.keystore), or
    # in the PKCS#11 token under this label (see sceau.hsm); one of the two.
    sealed_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    key_label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
