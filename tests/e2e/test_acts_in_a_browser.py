"""Acts in a real browser: prepared by the client's system through the SDK,
opened from the link of the e-mail actually received (logged out, so through
the login and back), then signed (pdfsig trusts the download), refused (the
client reads the reason), or found expired. The act page and the home page
with waiting acts are saved as screenshots for the docs."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from sceau.client import SceauClient
from sceau.db import utcnow
from sceau.people.models import Person
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.e2e.conftest import Authenticator, expect_drawn, screenshot
from tests.e2e.test_signer_in_a_browser import enrol, invite, log_in
from tests.people.conftest import deliver_mail
from tests.support.events import Mailbox
from tests.support.pdfs import many_pages_pdf, one_page_pdf
from tests.support.servers import LiveApp
from tests.support.validators import nss_db, pdfsig

EMAIL = "a.kone@notaires.example.ci"
REASON = "Acte de vente, lot 12, résidence Les Palmiers"


def _enrolled(
    page: Page,
    runtime: Runtime,
    atlanta: Provisioned,
    mailbox: Mailbox,
    tmp_path: Path,
) -> tuple[str, Authenticator]:
    """A person enrolled from their e-mail, not logged in: their code_09 and
    their phone."""
    phone = enrol(page, invite(runtime, atlanta, mailbox, EMAIL), tmp_path, shots=False)
    with runtime.db.sessions() as session:
        code_09 = session.scalar(select(Person.code_09).where(Person.email == EMAIL))
    assert code_09
    return code_09, phone


def _link_in_mail(runtime: Runtime, mailbox: Mailbox, ref: str) -> str:
    """The act's link, from the e-mail the person received."""
    deliver_mail(runtime, utcnow())
    for message in mailbox.messages:
        body = message.get_body(("plain",))
        if message["To"] != EMAIL or body is None:
            continue
        found = re.search(
            rf"http://127\.0\.0\.1:\d+/signer/actes/{ref}\b", body.get_content()
        )
        if found:
            return found.group(0)
    raise AssertionError(f"no e-mail links to {ref}")


def _open_logged_out(page: Page, link: str, phone: Authenticator) -> None:
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/signer/connexion\?suivant="))
    expect(page.get_by_role("status")).to_contain_text("l'acte qui vous est adressé")
    log_in(page, EMAIL, phone.fresh())
    expect(page).to_have_url(re.compile(re.escape(link) + "$"))


def test_an_act_from_the_e_mail_is_signed_in_a_browser(
    page: Page,
    runtime: Runtime,
    server: LiveApp,
    atlanta: Provisioned,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    code_09, phone = _enrolled(page, runtime, atlanta, mailbox, tmp_path)
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        made = sceau.create_act(
            code_09=code_09, motif=REASON, pdf=many_pages_pdf(2), niveau="B-T"
        )
        sceau.create_act(code_09=code_09, motif="Bail commercial", pdf=one_page_pdf())
    ref = made["ref_acte"]

    # The link of the e-mail, opened logged out: login, then the act.
    _open_logged_out(page, _link_in_mail(runtime, mailbox, ref), phone)
    expect(page.get_by_role("heading", level=1)).to_have_text("Acte à signer")
    expect(page.locator("#sha256-acte")).to_have_text(made["sha256"])
    expect(page.get_by_text("Atlanta Assurances").first).to_be_visible()
    expect_drawn(page.locator("ol.pages img"), 2)
    screenshot(page, "acte")

    # The home page lists both acts first; its link leads back to this one.
    page.get_by_role("link", name="Pixel Sceau").click()
    waiting = page.get_by_role("region", name="Actes en attente de votre signature")
    expect(waiting.get_by_role("listitem")).to_have_count(2)
    screenshot(page, "accueil-actes")
    waiting.get_by_role("link", name=f"Acte {ref}").click()

    # The code that logged in is refused; a fresh one signs.
    page.get_by_label("Code à six chiffres de l'application").fill(phone.last_code())
    page.get_by_role("button", name="Signer cet acte").click()
    expect(page.get_by_role("alert")).to_contain_text("Ce code a déjà servi")
    page.get_by_label("Code à six chiffres de l'application").fill(phone.fresh())
    page.get_by_role("button", name="Signer cet acte").click()
    expect(page.get_by_role("status")).to_contain_text("Le document est signé.")
    reference = page.locator("#ref-signature").inner_text()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger le PDF signé").click()
    signed = tmp_path / "acte-signe.pdf"
    download_info.value.save_as(signed)
    output = pdfsig(signed, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output
    assert "Certificate is Trusted." in output
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        read = sceau.get_act(ref)
    assert read["statut"] == "signe"
    assert read["ref_signature"] == reference

    page.goto(f"/signer/actes/{ref}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acte signé")
    expect(page.locator("main form")).to_have_count(0)


def test_an_act_is_refused_in_a_browser(
    page: Page,
    runtime: Runtime,
    server: LiveApp,
    atlanta: Provisioned,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    code_09, phone = _enrolled(page, runtime, atlanta, mailbox, tmp_path)
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        ref = sceau.create_act(code_09=code_09, motif=REASON, pdf=one_page_pdf())[
            "ref_acte"
        ]
    reason = "Le prix indiqué n'est pas celui convenu."

    _open_logged_out(page, _link_in_mail(runtime, mailbox, ref), phone)
    page.get_by_label("Motif du refus").fill(reason)
    page.get_by_role("button", name="Refuser cet acte").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Acte refusé")
    expect(page.get_by_role("status")).to_contain_text(f"Motif du refus : « {reason} »")
    expect(page.locator("main form")).to_have_count(0)
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        read = sceau.get_act(ref)
    assert read["statut"] == "refuse"
    assert read["motif_refus"] == reason


def test_an_expired_act_offers_no_form_in_a_browser(
    page: Page,
    runtime: Runtime,
    server: LiveApp,
    atlanta: Provisioned,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    code_09, phone = _enrolled(page, runtime, atlanta, mailbox, tmp_path)
    deadline = utcnow() + timedelta(seconds=2)
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        ref = sceau.create_act(
            code_09=code_09, motif=REASON, pdf=one_page_pdf(), expire_le=deadline
        )["ref_acte"]
    link = _link_in_mail(runtime, mailbox, ref)
    time.sleep(max(0.0, (deadline - utcnow()).total_seconds()) + 0.5)

    _open_logged_out(page, link, phone)

    expect(page.get_by_role("heading", level=1)).to_have_text("Acte expiré")
    expect(page.get_by_role("status")).to_contain_text("il ne peut plus être signé")
    expect(page.locator("main form")).to_have_count(0)
    expect(page.locator("main img")).to_have_count(0)
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        assert sceau.get_act(ref)["statut"] == "expire"
