"""Monthly invoices: priced lines, numbers without gaps even when closes
run at once, nothing new on a second close, credit notes as the only
correction, and a PDF that pdfsig finds signed by Pixel Sceau."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sceau.billing.errors import (
    CreditExceedsInvoice,
    InvalidCreditNote,
    InvoiceNotFound,
    MonthNotOver,
)
from sceau.billing.invoices import (
    close_month,
    get_invoice,
    invoice_json,
    issue_credit_note,
    list_invoices,
)
from sceau.billing.models import Invoice, UsageRecord
from sceau.billing.service import UNBILLED_CLIENTS
from sceau.documents.sealing import SERVICE_CLIENT_ID
from sceau.runtime import Runtime
from tests.billing.conftest import client_on, metered
from tests.support.validators import nss_db, pdfsig, pdfsig_signatures

NOVEMBER = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
CLOSED_AT = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def test_a_forfait_month_is_invoiced_with_overage_sla_credit_and_signature(
    runtime: Runtime, tmp_path: Path
) -> None:
    client = client_on(runtime, "Cabinet Yao", "forfait")
    metered(runtime, client, 450, NOVEMBER)
    metered(runtime, client, 51, NOVEMBER, mode="humaine")

    (invoice,) = close_month(runtime, "2026-11", now=CLOSED_AT)

    data = invoice_json(invoice)
    assert data["numero"] == "FAC-2026-000001"
    assert (data["type"], data["mois"], data["formule"]) == (
        "facture",
        "2026-11",
        "forfait",
    )
    assert [
        (line["nature"], line["mode"], line["quantite"], line["montant_xof"])
        for line in data["lignes"]
    ] == [
        ("abonnement", None, 1, 25_000),
        ("signatures", "humaine", 51, 0),
        ("signatures", "systeme", 450, 0),
        ("depassement", None, 1, 100),
        # No heartbeat was recorded in November: availability 0 % against
        # the forfait's 99.5 %, a 10 % credit (sceau.sla, the default grid).
        ("credit_sla", None, 1, -2_510),
    ]
    assert (data["sous_total_xof"], data["credits_sla_xof"], data["total_xof"]) == (
        25_100,
        -2_510,
        22_590,
    )

    assert invoice.pdf is not None
    path = tmp_path / "facture.pdf"
    path.write_bytes(invoice.pdf)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    (block,) = pdfsig_signatures(output)
    assert "Signature is Valid." in output
    assert "Certificate is Trusted." in output
    assert block["Signer Certificate Common Name"].startswith("Pixel Sceau")
    assert data["ref_signature_pdf"] == invoice.signature_ref


def test_closing_twice_issues_nothing_new_and_numbers_follow(
    runtime: Runtime,
) -> None:
    first = client_on(runtime, "Cabinet Yao", "pay_as_you_go")
    second = client_on(runtime, "Etude Bamba", "forfait")
    metered(runtime, first, 2, NOVEMBER)

    issued = close_month(runtime, "2026-11", now=CLOSED_AT)
    again = close_month(runtime, "2026-11", now=CLOSED_AT)

    # The forfait owes its fee without a signature (less its SLA credit).
    assert sorted((i.client_id, i.subtotal_xof) for i in issued) == sorted(
        [(first.client_id, 300), (second.client_id, 25_000)]
    )
    assert sorted(i.number for i in issued) == ["FAC-2026-000001", "FAC-2026-000002"]
    assert again == []
    with runtime.db.sessions() as session:
        assert len(list_invoices(session)) == 2


def test_a_month_is_closed_only_once_over(runtime: Runtime) -> None:
    with pytest.raises(MonthNotOver) as refused:
        close_month(runtime, "2026-11", now=datetime(2026, 11, 30, 23, 59, tzinfo=UTC))

    assert refused.value.code == "mois_non_termine"


def test_pixel_sceaus_own_documents_are_never_billed(runtime: Runtime) -> None:
    client = client_on(runtime, "Cabinet Yao", "pay_as_you_go")
    metered(runtime, client, 1, NOVEMBER)

    (invoice,) = close_month(runtime, "2026-11", now=CLOSED_AT)

    # Signing the invoice made a signature of the service's own client.
    assert {SERVICE_CLIENT_ID} == UNBILLED_CLIENTS
    assert invoice.client_id == client.client_id
    with runtime.db.sessions() as session:
        clients = set(session.scalars(select(UsageRecord.client_id)))
    assert clients == {client.client_id}


def test_a_correction_is_a_credit_note_and_the_invoice_stays(
    runtime: Runtime, tmp_path: Path
) -> None:
    client = client_on(runtime, "Cabinet Yao", "pay_as_you_go")
    metered(runtime, client, 10, NOVEMBER)
    (invoice,) = close_month(runtime, "2026-11", now=CLOSED_AT)

    note = issue_credit_note(
        runtime,
        invoice.number,
        600,
        "quatre signatures de test facturées à tort",
        actor="operateur:awa",
        now=CLOSED_AT,
    )

    assert note.number == "AV-2026-000001"
    assert (note.kind, note.corrects, note.total_xof) == (
        "avoir",
        invoice.number,
        -600,
    )
    data = invoice_json(note)
    assert data["facture_corrigee"] == invoice.number
    assert data["lignes"][0]["montant_xof"] == -600
    with runtime.db.sessions() as session:
        kept = get_invoice(session, invoice.number)
    assert (kept.total_xof, kept.lines, kept.pdf) == (
        1_500,
        invoice.lines,
        invoice.pdf,
    )

    with pytest.raises(CreditExceedsInvoice):
        issue_credit_note(runtime, invoice.number, 901, "trop", now=CLOSED_AT)
    with pytest.raises(InvalidCreditNote):
        issue_credit_note(runtime, note.number, 1, "un avoir d'avoir", now=CLOSED_AT)
    with pytest.raises(InvalidCreditNote):
        issue_credit_note(runtime, invoice.number, 0, "rien", now=CLOSED_AT)
    with pytest.raises(InvoiceNotFound):
        issue_credit_note(runtime, "FAC-2026-999999", 1, "inconnue", now=CLOSED_AT)
    issue_credit_note(runtime, invoice.number, 900, "le reste", now=CLOSED_AT)

    assert note.pdf is not None
    path = tmp_path / "avoir.pdf"
    path.write_bytes(note.pdf)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output


def test_concurrent_closes_never_share_or_skip_a_number(runtime: Runtime) -> None:
    clients = [
        client_on(runtime, name, "pay_as_you_go")
        for name in ("Cabinet Yao", "Etude Bamba", "Assurances Sahel")
    ]
    for client in clients:
        metered(runtime, client, 1, datetime(2026, 9, 10, tzinfo=UTC))
        metered(runtime, client, 1, datetime(2026, 10, 10, tzinfo=UTC))
    months = ["2026-09", "2026-10", "2026-10", "2026-09", "2026-09", "2026-10"]

    with ThreadPoolExecutor(len(months)) as pool:
        issued = list(
            pool.map(lambda month: close_month(runtime, month, now=CLOSED_AT), months)
        )

    numbers = sorted(invoice.number for batch in issued for invoice in batch)
    assert numbers == [f"FAC-2026-{n:06d}" for n in range(1, 7)]
    with runtime.db.sessions() as session:
        per_month = dict(
            session.execute(
                select(Invoice.month, func.count()).group_by(Invoice.month)
            ).all()
        )
        unsigned = session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.pdf.is_(None))
        )
    assert per_month == {"2026-09": 3, "2026-10": 3}
    assert unsigned == 0
    assert all(json.loads(i.lines) for batch in issued for i in batch)
