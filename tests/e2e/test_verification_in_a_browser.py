"""The public verification page in a real browser: a PDF signed through the
API with a visible seal, dropped on the page; the verdict read in the page;
the signed PDF report downloaded (pdfsig trusts it); then the address in the
seal's QR code opened, which shows what Pixel Sceau recorded."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from sceau.documents.sealing import SERVICE_LABEL
from sceau.runtime import Runtime
from tests.conftest import LABEL, Provisioned, sign_body
from tests.e2e.conftest import screenshot
from tests.support.pdfs import one_page_pdf
from tests.support.servers import LiveApp
from tests.support.validators import (
    nss_db,
    pdfsig,
    pdfsig_signatures,
    qr_code_on_last_page,
)

SIGN_URL = "/api/v1/sceau/b2b/signer"


def _signed_with_seal(server: LiveApp, client: Provisioned, path: Path) -> str:
    answer = httpx.post(
        server.base_url + SIGN_URL,
        headers=client.headers,
        json=sign_body(
            client, one_page_pdf(), niveau="B-T", apparence={"position": "bas_droite"}
        ),
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    path.write_bytes(base64.b64decode(body["pdf_signe_b64"]))
    return str(body["ref_signature"])


def test_verify_a_document_and_follow_its_seal(
    page: Page,
    server: LiveApp,
    runtime: Runtime,
    atlanta: Provisioned,
    tmp_path: Path,
) -> None:
    signed = tmp_path / "attestation.pdf"
    ref = _signed_with_seal(server, atlanta, signed)

    # Drop the document, by keyboard as much as a file chooser allows.
    page.goto("/verifier-signature")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Vérifier un document signé"
    )
    page.get_by_label("Document PDF signé").set_input_files(signed)
    page.get_by_role("button", name="Vérifier").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Document valide")
    expect(page.locator("#verdict")).to_contain_text(
        f"Signature valide : le document a été signé par {LABEL}"
    )
    expect(page.locator("main")).to_contain_text(
        "Non, le document n'a pas été modifié depuis."
    )
    page.get_by_text("Détails techniques").click()
    expect(page.locator("main")).to_contain_text("TOTAL-PASSED")
    screenshot(page, "verification")

    # The report, signed by Pixel Sceau, as a download.
    with page.expect_download() as started:
        page.get_by_role("button", name="Télécharger le rapport PDF signé").click()
    report = tmp_path / "rapport.pdf"
    started.value.save_as(report)
    assert started.value.suggested_filename.startswith("rapport-verification-")
    output = pdfsig(report, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    [block] = pdfsig_signatures(output)
    assert block["Signature Validation"] == "Signature is Valid.", output
    assert block["Certificate Validation"] == "Certificate is Trusted.", output
    assert block["Signer Certificate Common Name"] == SERVICE_LABEL

    # What a reader of the paper copy does: scan the seal's QR code.
    address = qr_code_on_last_page(signed, tmp_path)
    assert address == f"{server.base_url}/verifier-signature?ref={ref}"
    page.goto(address)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Signature {ref}")
    expect(page.locator("#enregistrement")).to_contain_text(
        f"{LABEL} ({atlanta.code_09})"
    )
    expect(page.get_by_label("Document PDF signé")).to_be_visible()
    expect(page.locator("main")).to_contain_text("déposez-le ci-dessous")
    screenshot(page, "verification-reference")
