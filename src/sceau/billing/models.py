"""What billing keeps: the plan history, one usage row per signature, the
invoices and credit notes, their number counters, and the notices sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow

KIND_INVOICE = "facture"
KIND_CREDIT_NOTE = "avoir"


class PlanChange(Base):
    """A plan a client moves to on the first day of ``effective_month``.

    Rows are never changed: the plan of a month is the latest row (highest
    id) whose month is not after it. ``previous_plan`` is the plan in force
    before the first change, for the months before it. The enterprise terms
    and the plan after a free period travel with the change that sets them.
    """

    __tablename__ = "plan_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    plan: Mapped[str] = mapped_column(String(40))
    previous_plan: Mapped[str] = mapped_column(String(40))
    effective_month: Mapped[str] = mapped_column(String(7))
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # enterprise only: the contract's terms, in XOF.
    unit_price_xof: Mapped[int | None] = mapped_column(Integer, nullable=True)
    monthly_fee_xof: Mapped[int | None] = mapped_column(Integer, nullable=True)
    included_signatures: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # gratuit_notaire only: the plan once the free period is over (else the
    # operator's default, SCEAU_BILLING_AFTER_FREE_PLAN).
    after_plan: Mapped[str | None] = mapped_column(String(40), nullable=True)


class UsageRecord(Base):
    """One successful signature, written in its signing transaction."""

    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_records_client_month", "client_id", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signature_ref: Mapped[str] = mapped_column(
        ForeignKey("signatures.ref"), unique=True
    )
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    month: Mapped[str] = mapped_column(String(7))
    mode: Mapped[str] = mapped_column(String(16))
    # The plan in force for the client that month, when it signed.
    plan: Mapped[str] = mapped_column(String(40))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Invoice(Base):
    """A monthly invoice (``facture``) or a credit note (``avoir``).

    Nothing here is updated once written, except ``pdf`` and ``signature_ref``,
    attached once by the step that signs the document (see
    ``sceau.billing.invoices``). ``lines`` is the JSON list of lines.
    """

    __tablename__ = "invoices"
    __table_args__ = (
        # Closing a month twice makes nothing new: one facture per client and
        # month; credit notes are as many as the operator issues.
        Index(
            "uq_invoices_facture_month",
            "client_id",
            "month",
            unique=True,
            sqlite_where=text("kind = 'facture'"),
            postgresql_where=text("kind = 'facture'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    plan: Mapped[str] = mapped_column(String(40))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lines: Mapped[str] = mapped_column(Text)
    subtotal_xof: Mapped[int] = mapped_column(BigInteger)
    credits_xof: Mapped[int] = mapped_column(BigInteger)
    total_xof: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(120))
    # avoir only: the invoice it corrects, and why.
    corrects: Mapped[str | None] = mapped_column(String(24), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    signature_ref: Mapped[str | None] = mapped_column(String(24), nullable=True)


class InvoiceCounter(Base):
    """The last number given in a series (``FAC-2026``, ``AV-2026``); taken
    under a row lock, in the transaction that writes the invoice."""

    __tablename__ = "invoice_counters"

    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


class BillingNotice(Base):
    """A once-only step for a client: a notice sent, a free period ended."""

    __tablename__ = "billing_notices"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime())
