"""A delegation, the document its person signs, its daily use and the
requests it refused."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow

STATUS_TO_SIGN = "a_signer"
STATUS_ACTIVE = "active"
STATUS_REFUSED = "refusee"
STATUS_CANCELLED = "annulee"
STATUS_REVOKED = "revoquee"
STATUS_EXPIRED = "expiree"
STATUSES = (
    STATUS_TO_SIGN,
    STATUS_ACTIVE,
    STATUS_REFUSED,
    STATUS_CANCELLED,
    STATUS_REVOKED,
    STATUS_EXPIRED,
)


class Delegation(Base):
    """A person's permission for a client's system to sign in their name.

    Drafted by the client (``a_signer``), it takes effect once the person has
    signed its document (``active``); it ends when the person revokes it, or
    by itself after ``valid_until``, which reads as ``expiree`` without any
    sweep. ``status`` leaves ``a_signer`` once, by a conditional UPDATE.

    The envelope is stored column by column, so that a reader of the database
    sees the limits that applied without decoding anything.
    """

    __tablename__ = "delegations"
    __table_args__ = (
        Index(
            "ix_delegations_person_client_status", "person_id", "client_id", "status"
        ),
    )

    ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"))
    code_09: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=STATUS_TO_SIGN)
    # The envelope (sceau.delegations.envelope.Envelope).
    act_types: Mapped[str] = mapped_column(Text)  # codes, comma-separated
    max_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    amount_inclusive: Mapped[bool] = mapped_column(Boolean)
    weekdays: Mapped[str] = mapped_column(String(16))  # ISO numbers: "1,2,3,4,5"
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    time_zone: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    daily_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The document the person is asked to sign, and what became of it.
    sha256_document: Mapped[str] = mapped_column(String(64))
    # The signature of this document (a plain column: the signatures made
    # under the delegation point here, and two tables pointing at each other
    # cannot be created, or emptied, in any order).
    signature_ref: Mapped[str | None] = mapped_column(String(24), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    refusal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str] = mapped_column(String(64))
    api_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class DelegationDocument(Base):
    """The unsigned document, as the person was shown it."""

    __tablename__ = "delegation_documents"

    ref: Mapped[str] = mapped_column(ForeignKey("delegations.ref"), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)


class DelegationDailyUse(Base):
    """How many signatures a delegation made on one local day."""

    __tablename__ = "delegation_daily_uses"

    delegation_ref: Mapped[str] = mapped_column(
        ForeignKey("delegations.ref"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class DelegationRefusal(Base):
    """A request refused because it left every envelope: what was asked, and
    which limit it crossed. ``delegation_ref`` is empty when the person had no
    active delegation to the client at all. ``person_notified`` says whether
    this refusal sent the person an e-mail (one per person, client and limit
    within the notice interval, however many requests are refused)."""

    __tablename__ = "delegation_refusals"
    __table_args__ = (
        Index(
            "ix_delegation_refusals_person_client_at", "person_id", "client_id", "at"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"))
    delegation_ref: Mapped[str | None] = mapped_column(
        ForeignKey("delegations.ref"), nullable=True
    )
    limit: Mapped[str] = mapped_column(String(32))
    act_type: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str] = mapped_column(String(64))
    person_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
