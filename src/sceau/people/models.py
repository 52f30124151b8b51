"""A person, their enrolment links, recovery codes and failed logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow

PROFESSIONS = (
    "notaire",
    "huissier",
    "avocat",
    "expert_comptable",
    "medecin",
    "architecte",
    "geometre",
    # Company officers, who may delegate their signature to their company's
    # system (sceau.delegations).
    "dirigeant",
    "mandataire",
    "autre",
)


class Person(Base):
    """A professional; ``code_09`` is their personal identity (key, certificate).

    ``password_hash`` and ``totp_secret_sealed`` are empty until enrolment and
    after an operator's reset. ``totp_last_step`` is the last accepted TOTP
    time step: a code of that step or an earlier one is refused.
    """

    __tablename__ = "persons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    profession: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    code_09: Mapped[str] = mapped_column(ForeignKey("identities.code_09"), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def enrolled(self) -> bool:
        return self.password_hash is not None and self.totp_secret_sealed is not None


class EnrolmentToken(Base):
    """A single-use enrolment link, kept as the SHA-256 of its token.

    The TOTP secret offered by the first visit waits here, sealed, until the
    person confirms it with a first code.
    """

    __tablename__ = "person_enrolment_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pending_totp_sealed: Mapped[bytes | None] = mapped_column(
        LargeBinary, nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the link is used, or replaced by a newer one.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RecoveryCode(Base):
    """A one-time code that stands in for TOTP, kept as its SHA-256."""

    __tablename__ = "person_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoginFailure(Base):
    """One failed login, by source address, for the per-address limit."""

    __tablename__ = "person_login_failures"
    __table_args__ = (Index("ix_person_login_failures_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
