"""The evidence file of an act signed in a real browser: the person downloads
it from the page of their signature, pdfsig trusts it, and it tells every step
(prepared, logged in, read, signed, sealed) in order, with times that go
forward and the audit entries that back them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from sceau.audit.models import AuditEntry
from sceau.audit.verify import verify_trail
from sceau.client import SceauClient
from sceau.db import iso_utc
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.e2e.test_acts_in_a_browser import _enrolled, _link_in_mail, _open_logged_out
from tests.support.events import Mailbox
from tests.support.pdfs import many_pages_pdf
from tests.support.servers import LiveApp
from tests.support.validators import nss_db, pdfsig, pdftotext

REASON = "Acte de vente, lot 7, résidence Les Flamboyants"
STEPS = [
    "acte.cree",
    "connexion.reussie",
    "acte.consulte",
    "acte.signe",
    "signature.signee",
]


def test_the_evidence_file_of_an_act_signed_in_a_browser_tells_every_step(
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
    ref = made["ref_acte"]
    _open_logged_out(page, _link_in_mail(runtime, mailbox, ref), phone)
    page.get_by_label("Code à six chiffres de l'application").fill(phone.fresh())
    page.get_by_role("button", name="Signer cet acte").click()
    expect(page.get_by_role("status")).to_contain_text("Le document est signé.")
    signature_ref = page.locator("#ref-signature").inner_text()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger le dossier de preuve").click()
    evidence = tmp_path / "dossier-de-preuve.pdf"
    download_info.value.save_as(evidence)
    story = page.request.get(
        f"/signer/signatures/{signature_ref}/dossier-de-preuve.json"
    )

    # Signed by Pixel Sceau, and trusted.
    output = pdfsig(evidence, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output
    assert "Certificate is Trusted." in output
    assert "Pixel Sceau" in output
    # Every step, in order, each backed by an entry.
    assert story.status == 200
    content = json.loads(story.text())
    steps = content["etapes"]
    assert [step["action"] for step in steps] == STEPS
    references = [step["journal"]["reference"] for step in steps]
    assert all(re.fullmatch(r"JRN-\d+", reference) for reference in references)
    # Each step's time and hash are those of the entry it cites, read back
    # from the trail itself rather than from the story's own ordering.
    with runtime.db.sessions() as session:
        for step in steps:
            entry = session.get(AuditEntry, int(step["journal"]["reference"][4:]))
            assert entry is not None
            assert entry.hash == step["journal"]["empreinte"]
            assert iso_utc(entry.at) == step["le"]
            assert entry.action == step["action"]
    # How the person came in and what they were shown.
    login, read, signed = steps[1], steps[2], steps[3]
    assert login["acteur"]["id"] == code_09
    assert login["acteur"]["address"] == "127.0.0.1"
    assert read["details"]["sha256_affiche"] == made["sha256"]
    assert signed["details"]["sha256_affiche"] == made["sha256"]
    # The PDF tells the same story, in the same order, in its chronology.
    text = pdftotext(evidence)
    # On one line: a long row wraps where its (random) key id's width says.
    chronology = " ".join(
        text[text.index("La chronologie (journal d'audit)") :].split()
    )
    positions = [chronology.find(f"({step['action']})") for step in steps] + [
        chronology.find(f"[{reference} ·") for reference in references
    ]
    assert -1 not in positions, chronology
    assert positions[:5] == sorted(positions[:5]), chronology
    assert positions[5:] == sorted(positions[5:]), chronology
    assert made["sha256"] in text
    assert "mot de passe" in text.lower() and "totp" in text.lower()
    assert "127.0.0.1" in text
    # And the trail it was drawn from holds.
    assert verify_trail(runtime.db).intact
