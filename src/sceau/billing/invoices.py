"""Monthly invoices and credit notes: priced, numbered without gaps, written
once, and signed by Pixel Sceau.

Numbers run per kind and per calendar year of issue: ``FAC-2026-000001`` for
invoices, ``AV-2026-000001`` for credit notes. A number is taken from its
counter row under a row lock, in the transaction that writes the invoice: a
rolled-back invoice gives its number back, and two closes never share one.

An invoice is written first (its lines and totals, final from then on), then
signed and its PDF attached: signing takes its own transaction
(``sign_and_record``), which must not wait behind the counter's lock. An
invoice left without its PDF, by a signing that failed (the time-stamping
authority away) or by a crash, keeps its number and lines; the worker chore
``billing.invoice_pdfs`` (``pdf_chore``) attaches its PDF a few minutes
later, and so does the next close of its month.

A client owes its plan's monthly fee for a month only if it could sign at
some time in it (in pilot or production: ``sceau.lifecycle``), in full; its
signatures, if any, are billed whatever its step.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record
from sceau.billing import service
from sceau.billing.errors import (
    CreditExceedsInvoice,
    InvalidCreditNote,
    InvoiceNotFound,
    MonthNotOver,
)
from sceau.billing.invoice_pdf import signed_invoice_pdf
from sceau.billing.models import (
    KIND_CREDIT_NOTE,
    KIND_INVOICE,
    Invoice,
    InvoiceCounter,
    UsageRecord,
)
from sceau.billing.months import month_end, month_start, parse_month
from sceau.billing.pricing import (
    GRATUIT_NOTAIRE,
    LINE_CREDIT_NOTE,
    Credit,
    Line,
    Priced,
    Terms,
    priced,
    signature_lines,
    standard_terms,
)
from sceau.clients.models import Client
from sceau.db import Database, iso_utc, utcnow
from sceau.lifecycle.service import open_during
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.sla.service import credits_for

logger = logging.getLogger(__name__)

SERIES_PREFIX = {KIND_INVOICE: "FAC", KIND_CREDIT_NOTE: "AV"}
MAX_REASON = 500
# How often the worker looks for invoices without their PDF, and how old one
# must be: younger, the close or credit note that issued it is signing it.
PDF_SWEEP_SECONDS = 300
PDF_GRACE = timedelta(minutes=2)


# -- reading -------------------------------------------------------------------


def list_invoices(session: Session, client_id: str | None = None) -> list[Invoice]:
    """Invoices and credit notes, newest first."""
    query = select(Invoice).order_by(Invoice.issued_at.desc(), Invoice.id.desc())
    if client_id is not None:
        query = query.where(Invoice.client_id == client_id)
    return list(session.scalars(query))


def get_invoice(
    session: Session, number: str, *, client_id: str | None = None
) -> Invoice:
    """The invoice of that number; another client's is not found, as if it
    did not exist."""
    invoice = session.scalar(select(Invoice).where(Invoice.number == number))
    if invoice is None or (client_id is not None and invoice.client_id != client_id):
        raise InvoiceNotFound()
    return invoice


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    data: dict[str, Any] = {
        "numero": invoice.number,
        "type": invoice.kind,
        "client": invoice.client_id,
        "mois": invoice.month,
        "formule": invoice.plan,
        "emise_le": iso_utc(invoice.issued_at),
        "devise": "XOF",
        "lignes": json.loads(invoice.lines),
        "sous_total_xof": invoice.subtotal_xof,
        "credits_sla_xof": invoice.credits_xof,
        "total_xof": invoice.total_xof,
        "ref_signature_pdf": invoice.signature_ref,
    }
    if invoice.kind == KIND_CREDIT_NOTE:
        data["facture_corrigee"] = invoice.corrects
        data["motif"] = invoice.reason
    return data


# -- closing a month -------------------------------------------------------------


def close_month(
    runtime: Runtime,
    month: str,
    *,
    now: datetime | None = None,
    actor: str = "operateur",
    by: Actor,
) -> list[Invoice]:
    """Issue the month's invoices not issued yet: one per client that signed
    in ``month`` or owes a fee for it. Closing again issues nothing new.
    ``by`` is who closes, for the audit trail.

    An invoice whose PDF cannot be signed now is issued all the same, its PDF
    pending (see the module's note), and the close goes on with the others.
    """
    month = parse_month(month)
    now = now or utcnow()
    if now < month_end(month):
        raise MonthNotOver()

    # Those an earlier close left without PDF first, before the new ones.
    attach_pending_pdfs(runtime, month=month)

    issued: list[Invoice] = []
    for client_id in _clients_to_bill(runtime, month):
        invoice = _issue_invoice(runtime, client_id, month, now, actor, by)
        if invoice is None:
            continue
        issued.append(invoice)
        _try_attach_pdf(runtime, invoice)

    with runtime.db.sessions() as session:
        refreshed = [get_invoice(session, invoice.number) for invoice in issued]
    if refreshed:
        logger.info(
            "billing.month_closed", extra={"month": month, "invoices": len(refreshed)}
        )
    return refreshed


def _clients_to_bill(runtime: Runtime, month: str) -> list[str]:
    """Clients with usage that month, and clients who owe a fee for it;
    Pixel Sceau's own client never."""
    with runtime.db.sessions() as session:
        used = set(
            session.scalars(
                select(UsageRecord.client_id)
                .where(UsageRecord.month == month)
                .distinct()
            )
        )
        for client_id in session.scalars(
            select(Client.id).where(Client.created_at < month_end(month))
        ):
            if client_id in used:
                continue
            if _owes_fee(session, runtime.settings, client_id, month):
                used.add(client_id)
    return sorted(used - service.UNBILLED_CLIENTS)


def _issue_invoice(
    runtime: Runtime,
    client_id: str,
    month: str,
    now: datetime,
    actor: str,
    by: Actor,
) -> Invoice | None:
    with runtime.db.transaction() as session:
        # The counter's lock first: a close running beside this one waits
        # here, then sees the invoice this one wrote.
        counter = _locked_counter(session, KIND_INVOICE, now)
        exists = session.scalar(
            select(Invoice.id).where(
                Invoice.client_id == client_id,
                Invoice.month == month,
                Invoice.kind == KIND_INVOICE,
            )
        )
        if exists is not None:
            return None

        plan = _month_terms(session, runtime.settings, client_id, month).plan
        lines = month_lines(session, runtime.settings, client_id, month)
        credits = [
            Credit(credit.code, credit.label, credit.percent)
            for credit in credits_for(
                session, runtime.settings, client_id, month, now=now
            )
        ]
        result = priced(lines, credits)
        invoice = _new_invoice(
            counter,
            kind=KIND_INVOICE,
            client_id=client_id,
            month=month,
            plan=plan,
            result=result,
            now=now,
            actor=actor,
        )
        session.add(invoice)
        session.flush()
        _audit_issue(session, actions.FACTURE_EMISE, invoice, by)
    return invoice


def month_lines(
    session: Session, settings: Settings, client_id: str, month: str
) -> list[Line]:
    """The lines of a client's month before credits.

    A gratuit_notaire client's signatures before the end of its free period
    are lines at 0 XOF; those after it, in the month it ends, are billed at
    the next plan's unit price, without its fee or included volume, which
    start with the first whole month (no pro rata).
    """
    terms = _month_terms(session, settings, client_id, month)
    signatures = service.month_signatures(session, client_id, month)
    if terms.plan != GRATUIT_NOTAIRE:
        # A month the client could not sign in (before its pilot) owes no
        # fee; the signatures it made all the same (an officer signing a
        # delegation) are billed at the unit price, as beyond a volume.
        with_fee = not terms.monthly_fee_xof or _open_in(session, client_id, month)
        return signature_lines(terms, _by_mode(signatures), with_fee=with_fee)

    end = service.free_period_end(session, settings, client_id)
    free = [s for s in signatures if end is None or s[0] < end]
    after = [s for s in signatures if end is not None and s[0] >= end]
    lines = signature_lines(terms, _by_mode(free))
    if after:
        next_plan = service.after_free_plan(session, settings, client_id, month)
        lines += signature_lines(
            standard_terms(next_plan, settings), _by_mode(after), with_fee=False
        )
    return lines


def _month_terms(
    session: Session, settings: Settings, client_id: str, month: str
) -> Terms:
    terms = service.terms_for_month(session, settings, client_id, month)
    if terms.plan == GRATUIT_NOTAIRE:
        # Over before the month began, though the move was not recorded yet
        # (the sweep records it within minutes): the next plan, whole.
        end = service.free_period_end(session, settings, client_id)
        if end is not None and end <= month_start(month):
            next_plan = service.after_free_plan(session, settings, client_id, month)
            return standard_terms(next_plan, settings)
    return terms


def _owes_fee(session: Session, settings: Settings, client_id: str, month: str) -> bool:
    terms = _month_terms(session, settings, client_id, month)
    return terms.monthly_fee_xof > 0 and _open_in(session, client_id, month)


def _open_in(session: Session, client_id: str, month: str) -> bool:
    """Whether the client was in pilot or production at some time in
    ``month``: a single day is a whole fee (no pro rata)."""
    return open_during(session, client_id, month_start(month), month_end(month))


def _by_mode(signatures: list[tuple[datetime, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, mode in signatures:
        counts[mode] = counts.get(mode, 0) + 1
    return counts


# -- credit notes ------------------------------------------------------------------


def issue_credit_note(
    runtime: Runtime,
    number: str,
    amount_xof: int,
    reason: str,
    *,
    actor: str = "operateur",
    by: Actor,
    now: datetime | None = None,
) -> Invoice:
    """A credit note of ``amount_xof`` against the invoice ``number``: the
    correction of an invoice, which itself never changes. ``by`` is who
    issues it, for the audit trail."""
    now = now or utcnow()
    reason = " ".join(reason.split())[:MAX_REASON]
    if isinstance(amount_xof, bool) or not isinstance(amount_xof, int):
        raise InvalidCreditNote()
    if amount_xof <= 0 or not reason:
        raise InvalidCreditNote()

    with runtime.db.transaction() as session:
        counter = _locked_counter(session, KIND_CREDIT_NOTE, now)
        invoice = session.scalar(
            select(Invoice).where(Invoice.number == number).with_for_update()
        )
        if invoice is None:
            raise InvoiceNotFound()
        if invoice.kind != KIND_INVOICE:
            raise InvalidCreditNote()
        credited = -int(
            session.scalar(
                select(func.coalesce(func.sum(Invoice.total_xof), 0)).where(
                    Invoice.corrects == number
                )
            )
            or 0
        )
        if credited + amount_xof > invoice.total_xof:
            raise CreditExceedsInvoice()

        line = Line(
            LINE_CREDIT_NOTE,
            f"Avoir sur la facture {number} : {reason}",
            1,
            -amount_xof,
            -amount_xof,
        )
        note = _new_invoice(
            counter,
            kind=KIND_CREDIT_NOTE,
            client_id=invoice.client_id,
            month=invoice.month,
            plan=invoice.plan,
            result=Priced([line], -amount_xof, 0, -amount_xof),
            now=now,
            actor=actor,
        )
        note.corrects = number
        note.reason = reason
        session.add(note)
        session.flush()
        _audit_issue(session, actions.AVOIR_EMIS, note, by)
    _try_attach_pdf(runtime, note)
    logger.info(
        "billing.credit_note_issued",
        extra={"number": note.number, "corrects": number, "amount_xof": amount_xof},
    )
    with runtime.db.sessions() as session:
        return get_invoice(session, note.number)


def _audit_issue(session: Session, action: str, invoice: Invoice, by: Actor) -> None:
    """The issue of an invoice or a credit note, in the audit trail.

    The signed PDF is made after the number's transaction (see the module's
    note), so its signature reference is not known here: ``facture.pdf_signe``
    names it once the PDF is attached.
    """
    record(
        session,
        action,
        actor=by,
        subject=invoice.number,
        objects={"facture": invoice.number, "facture_corrigee": invoice.corrects},
        details={
            "mois": invoice.month,
            "formule": invoice.plan,
            "total_xof": invoice.total_xof,
            "credits_sla_xof": invoice.credits_xof,
            "motif": invoice.reason,
        },
        client_id=invoice.client_id,
        now=invoice.issued_at,
    )


# -- numbers and documents ---------------------------------------------------------


def _locked_counter(session: Session, kind: str, now: datetime) -> InvoiceCounter:
    series = f"{SERIES_PREFIX[kind]}-{now.year:04d}"
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(InvoiceCounter)
        .values(series=series, last_number=0)
        .on_conflict_do_nothing(index_elements=["series"])
    )
    return session.scalars(
        select(InvoiceCounter).where(InvoiceCounter.series == series).with_for_update()
    ).one()


def _new_invoice(
    counter: InvoiceCounter,
    *,
    kind: str,
    client_id: str,
    month: str,
    plan: str,
    result: Priced,
    now: datetime,
    actor: str,
) -> Invoice:
    counter.last_number += 1
    return Invoice(
        number=f"{counter.series}-{counter.last_number:06d}",
        kind=kind,
        client_id=client_id,
        month=month,
        plan=plan,
        issued_at=now,
        lines=json.dumps(
            [_line_json(line) for line in result.lines], ensure_ascii=False
        ),
        subtotal_xof=result.subtotal_xof,
        credits_xof=result.credits_xof,
        total_xof=result.total_xof,
        actor=actor.strip()[: service.MAX_ACTOR] or "operateur",
    )


def _line_json(line: Line) -> dict[str, Any]:
    fields = asdict(line)
    return {
        "nature": fields["kind"],
        "libelle": fields["label"],
        "formule": fields["plan"],
        "mode": fields["mode"],
        "quantite": fields["quantity"],
        "prix_unitaire_xof": fields["unit_price_xof"],
        "montant_xof": fields["amount_xof"],
    }


def _attach_pdf(runtime: Runtime, invoice: Invoice) -> None:
    with runtime.db.sessions() as session:
        client = session.get(Client, invoice.client_id)
        name = client.name if client is not None else invoice.client_id
    outcome = signed_invoice_pdf(runtime, invoice, name)
    with runtime.db.transaction() as session:
        # The one write after issue, and only into an empty slot.
        attached = session.execute(
            update(Invoice)
            .where(Invoice.id == invoice.id, Invoice.pdf.is_(None))
            .values(pdf=outcome.signed_pdf, signature_ref=outcome.record.ref)
            .execution_options(synchronize_session=False)
        )
        if attached.rowcount:  # type: ignore[attr-defined]
            # Made by the service whoever closed the month: the PDF may be
            # signed by a later sweep.
            record(
                session,
                actions.FACTURE_PDF_SIGNE,
                actor=Actor.service(),
                subject=invoice.number,
                objects={"facture": invoice.number, "signature": outcome.record.ref},
                hashes={"signe": hashlib.sha256(outcome.signed_pdf).hexdigest()},
                client_id=invoice.client_id,
            )


def _try_attach_pdf(runtime: Runtime, invoice: Invoice) -> bool:
    """Attach the signed PDF; on failure log it and leave it pending."""
    try:
        _attach_pdf(runtime, invoice)
    except Exception:
        # Whatever failed (the time-stamping authority away, the database a
        # moment), the invoice is issued and final; only its PDF waits, and
        # the chore or the next close attaches it. The other clients' must
        # not wait on this one.
        logger.exception(
            "billing.invoice_pdf_failed",
            extra={"number": invoice.number, "client_id": invoice.client_id},
        )
        return False
    return True


def _pending_pdfs(
    db: Database, *, month: str | None = None, issued_before: datetime | None = None
) -> list[Invoice]:
    query = select(Invoice).where(Invoice.pdf.is_(None)).order_by(Invoice.id)
    if month is not None:
        query = query.where(Invoice.month == month)
    if issued_before is not None:
        query = query.where(Invoice.issued_at < issued_before)
    with db.sessions() as session:
        return list(session.scalars(query))


def attach_pending_pdfs(
    runtime: Runtime, *, month: str | None = None, now: datetime | None = None
) -> int:
    """Sign and attach the PDF of the invoices and credit notes without one
    (of ``month``, or those issued more than ``PDF_GRACE`` before ``now``);
    the number attached. One that fails again stays pending."""
    issued_before = None if month is not None else (now or utcnow()) - PDF_GRACE
    pending = _pending_pdfs(runtime.db, month=month, issued_before=issued_before)
    attached = sum(_try_attach_pdf(runtime, invoice) for invoice in pending)
    if attached:
        logger.info("billing.invoice_pdfs_attached", extra={"invoices": attached})
    return attached


def pdf_chore(db: Database, settings: Settings) -> Callable[[], int]:
    """What a worker loop runs every ``PDF_SWEEP_SECONDS``: attach the PDFs
    left pending (``attach_pending_pdfs``)."""
    runtimes: list[Runtime] = []

    def run() -> int:
        if not _pending_pdfs(db, issued_before=utcnow() - PDF_GRACE):
            return 0
        if not runtimes:
            # Signing needs the PKI and the time-stamper; a worker loop has
            # only the database, so it builds them once, when first needed,
            # on that same database.
            runtime = Runtime(settings)
            runtime.db.dispose()
            runtime.db = db
            runtimes.append(runtime)
        return attach_pending_pdfs(runtimes[0])

    return run
