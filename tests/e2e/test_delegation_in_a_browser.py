"""A delegation in a real browser: drafted by the client's system through the
SDK, opened by the officer from the link of the e-mail actually received
(logged out, so through the login and back), read and signed with a fresh
code; the API then signs in her name inside the envelope (pdfsig trusts the
result, whose reason names the delegation), is refused outside it (she gets
the refusal e-mail), and is refused altogether once she has revoked it in the
page. The three states of the page are saved as screenshots for the docs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from sceau.client import SceauClient
from sceau.client.errors import SceauApiError
from sceau.db import utcnow
from sceau.delegations.service import delegation_document, get_for_person
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.e2e.conftest import Authenticator, expect_drawn, screenshot
from tests.e2e.test_signer_in_a_browser import enrol, log_in
from tests.people.conftest import Registered, deliver_mail
from tests.support.delegations import (
    OFFICER_EMAIL,
    OFFICER_NAME,
    POLICY_REASON,
    add_catalogue,
    envelope_body,
    register_officer,
)
from tests.support.events import Mailbox
from tests.support.pdfs import one_page_pdf
from tests.support.servers import LiveApp
from tests.support.validators import nss_db, pdfsig, signature_entries


def _mails_to_officer(mailbox: Mailbox) -> list[str]:
    texts = []
    for message in mailbox.messages:
        body = message.get_body(("plain",))
        if message["To"] == OFFICER_EMAIL and body is not None:
            texts.append(body.get_content())
    return texts


def _link_in_mail(mailbox: Mailbox, pattern: str) -> str:
    for text in _mails_to_officer(mailbox):
        found = re.search(rf"http://127\.0\.0\.1:\d+{pattern}", text)
        if found:
            return found.group(0)
    raise AssertionError(f"no e-mail links to {pattern}")


def _enrolled_officer(
    page: Page,
    runtime: Runtime,
    atlanta: Provisioned,
    mailbox: Mailbox,
    tmp_path: Path,
) -> tuple[Registered, Authenticator]:
    """Atlanta's managing director, enrolled from her e-mail, not logged in."""
    add_catalogue(runtime, atlanta)
    now = utcnow()
    officer = register_officer(runtime, atlanta, now=now)
    deliver_mail(runtime, now)
    link = _link_in_mail(mailbox, r"/signer/inscription/\S+")
    return officer, enrol(page, link, tmp_path, shots=False)


def _sign_policy(
    server: LiveApp, atlanta: Provisioned, officer: Registered, at: datetime
) -> tuple[bytes, str | None]:
    """The client's system signs a policy in the officer's name, the API's
    clock at ``at``: the signed PDF and the delegation it was signed under."""
    assert server.app is not None
    server.app.state.api_clock = lambda: at
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        signed = sceau.sign_delegated(
            code_09=officer.code_09,
            nom_signataire=OFFICER_NAME,
            motif=POLICY_REASON,
            pdf=one_page_pdf(),
            type_acte="police_assurance",
            montant=1_250_000,
        )
    assert signed.mode == "deleguee"
    return signed.pdf_signe, signed.ref_delegation


def _refused(
    server: LiveApp, atlanta: Provisioned, officer: Registered, at: datetime
) -> SceauApiError:
    with pytest.raises(SceauApiError) as refused:
        _sign_policy(server, atlanta, officer, at)
    assert refused.value.status == 403
    assert refused.value.code == "hors_enveloppe"
    return refused.value


def _page_count(runtime: Runtime, officer: Registered, ref: str) -> int:
    """The pages of the delegation's document, as pypdf counts them."""
    with runtime.db.sessions() as session:
        state = get_for_person(session, officer.person_id, ref)
        pdf = delegation_document(session, state.delegation)
    return len(PdfReader(BytesIO(pdf)).pages)


def _next(weekday: int, hour: int, after: datetime | None = None) -> datetime:
    """The next such day (ISO weekday) after ``after`` (default: now), at
    ``hour`` in Abidjan (UTC): the pages run at the real time, so the
    envelope does too."""
    start = (after or utcnow()).date()
    ahead = (weekday - start.isoweekday() - 1) % 7 + 1
    day = start + timedelta(days=ahead)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_a_delegation_is_signed_used_and_revoked_in_a_browser(
    page: Page,
    runtime: Runtime,
    server: LiveApp,
    atlanta: Provisioned,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    officer, phone = _enrolled_officer(page, runtime, atlanta, mailbox, tmp_path)
    # In this order: the refusal notices are at most one an hour.
    tuesday_10h, tuesday_18h = _next(2, 10), _next(2, 18)
    saturday_10h = _next(6, 10, after=tuesday_18h)
    today = utcnow().date()
    envelope = envelope_body(
        officer.code_09,
        valide_du=str(today - timedelta(days=1)),
        valide_au=str(today + timedelta(days=365)),
    )
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        drafted = sceau.draft_delegation(**envelope)
    ref = drafted["ref_delegation"]
    assert drafted["statut"] == "a_signer"

    # The link of the e-mail, opened logged out: login, then the delegation.
    deliver_mail(runtime, utcnow())
    link = _link_in_mail(mailbox, rf"/signer/delegations/{ref}\b")
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/signer/connexion\?suivant="))
    log_in(page, OFFICER_EMAIL, phone.fresh())
    expect(page).to_have_url(re.compile(re.escape(link) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Délégation à signer")
    expect(page.locator("#etat-delegation")).to_contain_text(
        "Atlanta Assurances vous demande l'autorisation"
    )
    expect(page.locator("#sha256-delegation")).to_have_text(drafted["sha256_document"])
    envelope = page.locator("ul.enveloppe li")
    expect(envelope).to_have_text(drafted["description"])
    expect_drawn(page.locator("ol.pages img"), _page_count(runtime, officer, ref))
    screenshot(page, "delegation-a-signer")

    # The home page lists it first; the navigation leads to the list.
    page.get_by_role("link", name="Pixel Sceau").click()
    waiting = page.get_by_role(
        "region", name="Délégations en attente de votre signature"
    )
    expect(waiting.get_by_role("listitem")).to_have_count(1)
    page.get_by_role("link", name="Mes délégations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes délégations")
    page.get_by_role("region", name="À signer").get_by_role(
        "link", name=f"Délégation {ref}"
    ).click()

    # The code that logged in is refused; a fresh one signs.
    page.get_by_label("Code à six chiffres de l'application").fill(phone.last_code())
    page.get_by_role("button", name="Signer cette délégation").click()
    expect(page.get_by_role("alert")).to_contain_text("Ce code a déjà servi")
    page.get_by_label("Code à six chiffres de l'application").fill(phone.fresh())
    page.get_by_role("button", name="Signer cette délégation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Délégation en vigueur")
    expect(page.get_by_role("status")).to_contain_text(
        "La délégation est signée : elle est en vigueur."
    )
    screenshot(page, "delegation-active")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger la délégation signée").click()
    signed = tmp_path / "delegation-signee.pdf"
    download_info.value.save_as(signed)
    nssdb = nss_db(tmp_path, runtime.pki.root_pem().encode())
    output = pdfsig(signed, nssdb)
    assert "Signature is Valid." in output and "Certificate is Trusted." in output
    [entries] = signature_entries(signed.read_bytes())
    assert entries["/Reason"].startswith(f"Délégation de signature {ref} ")

    # Tuesday 10:00 in Abidjan: inside the envelope, signed in her name.
    policy, under = _sign_policy(server, atlanta, officer, tuesday_10h)
    assert under == ref
    path = tmp_path / "police.pdf"
    path.write_bytes(policy)
    output = pdfsig(path, nssdb)
    assert "Signature is Valid." in output and "Certificate is Trusted." in output
    [entries] = signature_entries(policy)
    assert entries["/Reason"] == f"{POLICY_REASON} — signé sous la délégation {ref}"

    # 18:00:00 sharp and Saturday: outside, refused, and she is told.
    at_six = _refused(server, atlanta, officer, tuesday_18h)
    assert at_six.details == {"limite": "heure", "ref_delegation": ref}
    on_saturday = _refused(server, atlanta, officer, saturday_10h)
    assert on_saturday.details == {"limite": "jour", "ref_delegation": ref}
    deliver_mail(runtime, saturday_10h)
    notices = [text for text in _mails_to_officer(mailbox) if "Rien n'a été" in text]
    assert any("le samedi" in text and ref in text for text in notices), notices
    assert any("de 08:00 à 18:00" in text for text in notices), notices

    # Revoked in the page, at once: the next request inside hours is refused.
    page.reload()
    page.get_by_label(
        f"Je confirme révoquer la délégation {ref} dès maintenant."
    ).check()
    page.get_by_role("button", name="Révoquer cette délégation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Délégation révoquée")
    expect(page.get_by_role("status")).to_contain_text("La délégation est révoquée.")
    expect(page.locator("main form")).to_have_count(0)
    screenshot(page, "delegation-revoquee")
    after = _refused(server, atlanta, officer, tuesday_10h)
    assert after.details["limite"] == "aucune_delegation"
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        assert sceau.get_delegation(ref)["statut"] == "revoquee"
