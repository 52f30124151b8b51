"""An invoice or a credit note as a French A4 PDF, signed by Pixel Sceau
itself through the path its verification reports take
(``sceau.documents.sealing.sign_as_service``)."""

from __future__ import annotations

import json
from typing import Any

from sceau.billing.models import KIND_CREDIT_NOTE, Invoice
from sceau.billing.months import month_start
from sceau.billing.pricing import PLAN_LABELS
from sceau.documents.layout import FrenchPdf
from sceau.documents.sealing import SERVICE_CODE_09, SERVICE_LABEL, sign_as_service
from sceau.modes.pipeline import SignatureOutcome
from sceau.runtime import Runtime

ISSUER = "Pixel AI SARLU (Pixel Sceau), 10 BP 3333 Abidjan 10, Cocody"
_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def xof(amount: int) -> str:
    """``25 000 XOF``: thousands apart by a no-break space, as French writes."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,}".replace(",", "\u00a0") + "\u00a0XOF"


def month_words(month: str) -> str:
    start = month_start(month)
    return f"{_MONTHS[start.month - 1]} {start.year}"


def title_of(invoice: Invoice) -> str:
    word = "Avoir" if invoice.kind == KIND_CREDIT_NOTE else "Facture"
    return f"{word} {invoice.number}"


def render_invoice_pdf(invoice: Invoice, client_name: str) -> bytes:
    """The document, unsigned: who, which month, the lines, the totals."""
    title = title_of(invoice)
    document = FrenchPdf(
        title=title,
        footer=f"Pixel Sceau — {title} — {client_name}",
        created_at=invoice.issued_at,
    )
    document.title(title)
    facts = [
        ("Émetteur", ISSUER),
        ("Client", f"{client_name} ({invoice.client_id})"),
        ("Période", month_words(invoice.month) + " (UTC)"),
        ("Formule", PLAN_LABELS.get(invoice.plan, invoice.plan)),
        ("Émise le", invoice.issued_at.strftime("%d/%m/%Y à %H:%M UTC")),
    ]
    if invoice.corrects:
        facts.append(("Facture corrigée", invoice.corrects))
    if invoice.reason:
        facts.append(("Motif", invoice.reason))
    document.facts(facts)

    document.heading("Détail")
    document.facts([_line_row(line) for line in json.loads(invoice.lines)])

    document.heading("Totaux")
    totals = [("Sous-total", xof(invoice.subtotal_xof))]
    if invoice.credits_xof:
        totals.append(("Crédits de service", xof(invoice.credits_xof)))
    label = "Total de l'avoir" if invoice.kind == KIND_CREDIT_NOTE else "Total à payer"
    totals.append((label, xof(invoice.total_xof)))
    document.facts(totals)

    document.note(
        "Montants en francs CFA (XOF), hors taxes. Ce document est signé "
        f"électroniquement par {SERVICE_LABEL} ({SERVICE_CODE_09}) ; sa signature "
        "peut être vérifiée par tout lecteur PDF ou sur la page publique de "
        "vérification de Pixel Sceau. Une facture émise n'est jamais modifiée : "
        "une correction prend la forme d'un avoir."
    )
    return document.output()


def _line_row(line: dict[str, Any]) -> tuple[str, str]:
    """A line's label, and its amount, with the quantity when it counts."""
    if line["nature"] in ("signatures", "depassement"):
        value = (
            f"{line['quantite']} × {xof(line['prix_unitaire_xof'])} = "
            f"{xof(line['montant_xof'])}"
        )
    else:
        value = xof(line["montant_xof"])
    return line["libelle"], value


def signed_invoice_pdf(
    runtime: Runtime, invoice: Invoice, client_name: str
) -> SignatureOutcome:
    return sign_as_service(
        runtime,
        render_invoice_pdf(invoice, client_name),
        f"{title_of(invoice)} de Pixel Sceau ({invoice.client_id}, {invoice.month})",
    )
