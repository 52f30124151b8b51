"""The console in a real browser: an administrator enrols, logs in with a
TOTP code, rotates an API key and sees it once, downloads an invoice and
reads the SLA charts; a reader has no rotate button and a forged POST is
refused. The pages are saved as screenshots for docs/console.md."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from playwright.sync_api import Page, expect

from sceau.audit.actors import Actor
from sceau.billing.invoices import close_month
from sceau.billing.months import month_of, month_start, shift_month
from sceau.console.users import create_user
from sceau.db import utcnow
from sceau.runtime import Runtime
from tests.billing.conftest import backdate, metered
from tests.conftest import Provisioned
from tests.e2e.conftest import Authenticator, screenshot
from tests.support.validators import pdftotext

PASSWORD = "la lagune Ébrié au lever du jour"


def invite(runtime: Runtime, client: Provisioned, email: str, role: str) -> str:
    with runtime.db.transaction() as session:
        return create_user(
            session,
            runtime.settings,
            email=email,
            name="Awa Traoré",
            role=role,
            client_id=client.client_id,
            by=Actor.operator(),
        ).link


def enrol(page: Page, link: str, *, shots: bool) -> Authenticator:
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Activer votre compte de la console"
    )
    expect(page.locator("figure.qr svg")).to_be_visible()
    phone = Authenticator(page.locator("#secret").inner_text().replace(" ", ""))
    if shots:
        screenshot(page, "console-inscription")
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Le même mot de passe, une seconde fois").fill(PASSWORD)
    page.get_by_label("Code à six chiffres affiché par l'application").fill(
        phone.fresh()
    )
    page.get_by_role("button", name="Activer mon compte").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre compte est activé")
    return phone


def log_in(page: Page, email: str, phone: Authenticator, *, shots: bool) -> None:
    page.goto("/console/connexion")
    if shots:
        screenshot(page, "console-connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_label("Code de l'application d'authentification").fill(phone.fresh())
    page.get_by_role("button", name="Se connecter").click()


def bill_last_month(runtime: Runtime, client: Provisioned) -> str:
    """Signatures last month and this one, last month closed: its invoice.

    The client is on the forfait and in production since before last month,
    so it owes last month's fee; no heartbeat was recorded then, so no SLA
    credit is earned: the invoice is the fee, 25 000 XOF."""
    now = utcnow()
    this_month = month_of(now)
    last_month = shift_month(this_month, -1)
    backdate(
        runtime, client, month_start(last_month) - timedelta(days=1), plan="forfait"
    )
    metered(runtime, client, 4, now - timedelta(days=now.day + 3))
    metered(runtime, client, 2, now.replace(day=1, hour=0, minute=1))
    # Off this thread: Playwright's event loop runs here, and the invoice's
    # time-stamper runs one of its own.
    with ThreadPoolExecutor(1) as worker:
        (invoice,) = worker.submit(
            close_month, runtime, last_month, now=now, by=Actor.operator()
        ).result()
    return invoice.number


def test_an_administrator_rotates_a_key_downloads_an_invoice_and_reads_the_sla(
    page: Page, runtime: Runtime, atlanta: Provisioned
) -> None:
    number = bill_last_month(runtime, atlanta)
    email = "admin@atlanta.example.ci"
    phone = enrol(page, invite(runtime, atlanta, email, "administrateur"), shots=True)

    log_in(page, email, phone, shots=True)
    expect(page.get_by_role("heading", level=1)).to_have_text("Atlanta Assurances")
    expect(page.locator("#signatures-du-mois")).to_have_text("2")
    screenshot(page, "console-accueil")

    # A new API key, shown once.
    page.get_by_role("link", name="Clés").click()
    screenshot(page, "console-cles")
    page.get_by_role("button", name="Renouveler la clé d'api").click()
    secret = page.locator("#secret-unique").inner_text()
    assert secret.startswith("psk_")
    expect(page.get_by_role("status")).to_contain_text("ne sera plus jamais affichée")
    screenshot(page, "console-cle-nouvelle")
    page.get_by_role("link", name="Retour aux clés").click()
    expect(page.get_by_text("en recouvrement")).to_be_visible()
    assert secret not in page.content()

    # Usage and the invoice PDF.
    page.get_by_role("link", name="Consommation et factures").click()
    chart = page.locator("#graphique-consommation")
    expect(chart).to_be_visible()
    assert chart.locator("rect.barre").count() == 12
    said = chart.locator("desc").text_content() or ""
    assert re.search(
        r"\d{4}-\d{2} : 4 signatures ; \d{4}-\d{2} : 2 signatures\.$", said
    )
    screenshot(page, "console-consommation")
    row = page.locator("tr", has_text=number)
    expect(row.locator('td[data-titre="Total"]')).to_have_text("25\u202f000 FCFA")
    with page.expect_download() as download:
        page.get_by_role("link", name=f"Télécharger {number}").click()
    path = download.value.path()
    assert path.read_bytes().startswith(b"%PDF-")
    assert download.value.suggested_filename == f"{number}.pdf"
    # What the client reads in the PDF: the fee, nothing taken off.
    text = " ".join(pdftotext(path).split())
    assert "Forfait mensuel : redevance mensuelle, 500 signatures incluses" in text
    assert "Sous-total 25 000 XOF" in text
    assert "Total à payer 25 000 XOF" in text
    assert "Crédit" not in text

    # The SLA indicators, beside their targets, and their charts.
    page.get_by_role("link", name="Indicateurs SLA").click()
    expect(page.locator("#indicateurs")).to_contain_text("≥ 99,5 %")
    availability = page.locator("#graphique-disponibilite_pct")
    expect(availability).to_be_visible()
    assert availability.locator("line.cible").count() == 1
    description = availability.locator("desc").text_content() or ""
    assert re.search(r"objectif : 99,5 %", description), description
    screenshot(page, "console-sla")


def test_a_reader_cannot_rotate_and_a_forged_post_is_refused(
    page: Page, runtime: Runtime, atlanta: Provisioned
) -> None:
    email = "lecture@atlanta.example.ci"
    phone = enrol(page, invite(runtime, atlanta, email, "lecteur"), shots=False)
    log_in(page, email, phone, shots=False)
    expect(page.get_by_role("heading", level=1)).to_have_text("Atlanta Assurances")

    page.get_by_role("link", name="Clés").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clés d'API et clés HMAC")
    expect(page.get_by_role("button", name=re.compile("Renouveler"))).to_have_count(0)
    screenshot(page, "console-lecteur")

    # The reader's own session and CSRF token, on a form the page never showed.
    token = page.locator('input[name="csrf"]').first.get_attribute("value")
    assert token
    forged = page.request.post(
        f"/console/clients/{atlanta.client_id}/cles/api/renouveler",
        form={"csrf": token, "delai_grace_heures": "0"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert "Action refusée" in forged.text()
    assert "psk_" not in forged.text()
