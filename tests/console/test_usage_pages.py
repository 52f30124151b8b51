"""Usage, invoices and SLA indicators in the console: the chart of past
months, the invoice PDF to download, the indicators beside their targets."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from io import BytesIO

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import update

from sceau.audit.actors import Actor
from sceau.billing.invoices import close_month
from sceau.clients.models import Client
from sceau.runtime import Runtime
from tests.billing.conftest import metered
from tests.conftest import Provisioned
from tests.console.conftest import ConsoleAccount, shown
from tests.support.validators import signature_entries

NOVEMBER = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CLOSED_AT = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def _bars(page: str) -> dict[str, str]:
    """Each bar's tooltip, « month : value unit », by month."""
    return dict(re.findall(r"<rect[^>]*><title>(\d{4}-\d{2}) : ([^<]+)</title>", page))


def test_usage_is_charted_by_month_and_the_invoice_downloads(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned, runtime: Runtime
) -> None:
    metered(runtime, atlanta, 3, NOVEMBER)
    metered(runtime, atlanta, 2, DECEMBER)
    (invoice,) = close_month(runtime, "2026-11", now=CLOSED_AT, by=Actor.operator())

    page = site.get(f"/console/clients/{atlanta.client_id}/consommation")

    assert page.status_code == 200
    bars = _bars(page.text)
    assert bars["2026-11"] == "3 signatures"
    assert bars["2026-12"] == "2 signatures"
    assert len(bars) == 12
    assert ">nov.</text>" in page.text
    assert ">janv.</text>" in page.text
    assert "<script" not in page.text
    assert invoice.number in shown(page)
    assert "Système : 3" in shown(page)
    assert "450 FCFA" in shown(page).replace("\u202f", " ")

    pdf = site.get(
        f"/console/clients/{atlanta.client_id}/factures/{invoice.number}.pdf"
    )
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store"
    assert pdf.content == invoice.pdf
    assert signature_entries(pdf.content), "the invoice is signed by Pixel Sceau"
    assert "Atlanta Assurances" in _text(pdf.content)
    assert invoice.number in _text(pdf.content)


def test_an_unknown_invoice_is_a_404_page(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned
) -> None:
    answer = site.get(f"/console/clients/{atlanta.client_id}/factures/FAC-2026-999.pdf")

    assert answer.status_code == 404
    assert "Aucune facture de ce numéro" in shown(answer)


def test_sla_indicators_stand_beside_their_targets(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned, runtime: Runtime
) -> None:
    with runtime.db.transaction() as session:
        session.execute(
            update(Client).where(Client.id == atlanta.client_id).values(plan="forfait")
        )

    page = site.get(f"/console/clients/{atlanta.client_id}/sla")

    assert page.status_code == 200
    text = shown(page)
    assert "Indicateurs de service — 2026-12" in text
    assert "≥ 99,5 %" in text
    assert "≤ 800 ms" in text
    assert page.text.count("<svg") == 5
    assert page.text.count('class="cible"') == 5
    assert "Disponibilité mensuelle du service" in text


def test_without_a_commitment_no_target_is_drawn(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned
) -> None:
    page = site.get(f"/console/clients/{atlanta.client_id}/sla")

    assert page.status_code == 200
    assert "aucun engagement" in shown(page)
    assert 'class="cible"' not in page.text
