"""The web signer in a real browser: enrolment from the e-mail actually
received, login with password and TOTP, upload, review and signature (pdfsig
trusts the download), a replayed code refused, and an account locked after
repeated wrong codes. The main pages are saved as screenshots for the docs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from playwright.sync_api import Page, expect

from sceau.audit.actors import Actor
from sceau.db import utcnow
from sceau.people.service import create_person
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.e2e.conftest import Authenticator, expect_drawn, screenshot
from tests.people.conftest import deliver_mail
from tests.support.events import Mailbox
from tests.support.pdfs import many_pages_pdf
from tests.support.validators import nss_db, pdfsig

PASSWORD = "la lagune Ébrié au lever du jour"
REASON = "Acte de vente n° 2026-118, étude Koné"


def invite(runtime: Runtime, client: Provisioned, mailbox: Mailbox, email: str) -> str:
    """Register a person and return the link of the e-mail they receive."""
    now = utcnow()
    with runtime.db.transaction() as session:
        create_person(
            session,
            runtime.pki,
            runtime.sealer,
            runtime.settings,
            name="Maître Aminata Koné",
            email=email,
            profession="notaire",
            client_id=client.client_id,
            algorithm="ecdsa-p256",
            now=now,
            by=Actor.operator(),
        )
    deliver_mail(runtime, now)
    [message] = [m for m in mailbox.messages if m["To"] == email]
    body = message.get_body(("plain",))
    assert body is not None
    link = re.search(
        r"http://127\.0\.0\.1:\d+/signer/inscription/\S+", body.get_content()
    )
    assert link, body.get_content()
    return link.group(0)


def enrol(page: Page, link: str, tmp_path: Path, *, shots: bool) -> Authenticator:
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Activer votre compte de signature"
    )
    secret = page.locator("#secret").inner_text().replace(" ", "")
    # The QR code, read back by an independent decoder.
    qr = tmp_path / "qr.png"
    page.locator("figure.qr svg").screenshot(path=qr)
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(qr)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert decoded.startswith("otpauth://totp/")
    assert f"secret={secret}" in decoded
    if shots:
        screenshot(page, "inscription")

    phone = Authenticator(secret)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Le même mot de passe, une seconde fois").fill(PASSWORD)
    page.get_by_label("Code à six chiffres affiché par l'application").fill(
        phone.fresh()
    )
    page.get_by_role("button", name="Activer mon compte").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre compte est activé")
    assert page.locator(".codes-secours li").count() == 10
    if shots:
        screenshot(page, "inscription-terminee")
    return phone


def log_in(page: Page, email: str, code: str) -> None:
    page.get_by_label("Adresse e-mail ou identifiant Pixel").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_label("Code de l'application d'authentification").fill(code)
    page.get_by_role("button", name="Se connecter").click()


def test_enrol_log_in_and_sign_in_a_browser(
    page: Page,
    runtime: Runtime,
    atlanta: Provisioned,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    email = "a.kone@notaires.example.ci"
    phone = enrol(page, invite(runtime, atlanta, mailbox, email), tmp_path, shots=True)

    # Login: password, then a code the server has not seen.
    page.get_by_role("link", name=re.compile("me connecter")).click()
    expect(page).to_have_url(re.compile("/signer/connexion$"))
    screenshot(page, "connexion")
    log_in(page, email, phone.fresh())
    expect(page.get_by_role("heading", name="Vos signatures")).to_be_visible()

    # Upload a document and review it.
    page.get_by_role("link", name="Signer un nouveau document").click()
    screenshot(page, "nouveau")
    pdf = tmp_path / "acte.pdf"
    pdf.write_bytes(many_pages_pdf(2))
    page.get_by_label("Document PDF").set_input_files(pdf)
    page.get_by_label("Motif de la signature").fill(REASON)
    expect(page.get_by_label("Niveau de signature")).to_have_value(
        runtime.settings.default_level
    )
    page.get_by_label("Niveau de signature").select_option("B-T")
    page.get_by_role("button", name="Déposer et relire").click()
    expect(page.get_by_role("heading", name="Relire et signer")).to_be_visible()
    expect_drawn(page.locator("ol.pages img"), 2)
    screenshot(page, "relecture")

    # The code that logged in is refused; a fresh one signs.
    code_field = page.get_by_label("Code à six chiffres de l'application")
    code_field.fill(phone.last_code())
    page.get_by_role("button", name="Signer ce document").click()
    expect(page.get_by_role("alert")).to_contain_text("Ce code a déjà servi")
    page.get_by_label("Code à six chiffres de l'application").fill(phone.fresh())
    page.get_by_role("button", name="Signer ce document").click()
    expect(page.get_by_role("status")).to_contain_text("Le document est signé.")
    reference = page.locator("#ref-signature").inner_text()
    assert reference
    assert page.locator("#ref-horodatage").inner_text()
    screenshot(page, "resultat")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger le PDF signé").click()
    signed = tmp_path / "signe.pdf"
    download_info.value.save_as(signed)
    output = pdfsig(signed, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output
    assert "Certificate is Trusted." in output

    # The home page lists it; logging out ends the session.
    page.get_by_role("link", name="Pixel Sceau").click()
    expect(page.get_by_role("link", name=reference, exact=True)).to_be_visible()
    screenshot(page, "accueil")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile("/signer/connexion$"))
    page.goto("/signer")
    expect(page).to_have_url(re.compile("/signer/connexion$"))


def test_repeated_wrong_codes_lock_the_account_in_a_browser(
    page: Page,
    runtime: Runtime,
    atlanta: Provisioned,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    email = "b.traore@notaires.example.ci"
    enrol(page, invite(runtime, atlanta, mailbox, email), tmp_path, shots=False)
    page.goto("/signer/connexion")

    for _ in range(runtime.settings.person_lock_after_failures - 1):
        log_in(page, email, "000000")
        expect(page.get_by_role("alert")).to_contain_text(
            "Identifiant, mot de passe ou code incorrect."
        )
    log_in(page, email, "000000")

    expect(page.get_by_role("alert")).to_contain_text("le compte est verrouillé")
    screenshot(page, "connexion-verrouillee")


def test_the_pages_work_by_keyboard(page: Page) -> None:
    page.goto("/signer/connexion")

    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Aller au contenu"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "identifiant"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
