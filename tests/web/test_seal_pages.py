"""The visible seal chosen on the upload form: bottom right of the last page
unless the person says otherwise, shown on the review, drawn on the signed
PDF with a QR code that leads to the signature's public verification."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

from sceau.runtime import Runtime
from sceau.verification.links import verification_page_url
from tests.support.pdfs import many_pages_pdf
from tests.support.validators import (
    nss_db,
    pdfsig,
    pdfsig_signatures,
    qr_code_on_last_page,
)
from tests.web.conftest import Account, FrozenClock, csrf_of, shown
from tests.web.test_signing_pages import REASON, sign

# The seal is drawn by the engine whatever the database; one is enough here.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _upload(site: TestClient, pdf: bytes, seal: str | None) -> str:
    form = site.get("/signer/nouveau")
    data = {"csrf": csrf_of(form), "motif": REASON, "niveau": "B-T"}
    if seal is not None:
        data["sceau"] = seal
    answer = site.post(
        "/signer/nouveau",
        data=data,
        files={"fichier": ("acte.pdf", pdf, "application/pdf")},
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def _sign_and_download(
    site: TestClient, review_url: str, account: Account, clock: FrozenClock
) -> tuple[str, bytes]:
    clock.advance(seconds=30)
    signed = sign(site, review_url, account.code_at(clock.now()))
    assert signed.status_code == 303, signed.text
    ref = signed.headers["location"].split("/")[-1].split("?")[0]
    return ref, site.get(f"/signer/signatures/{ref}.pdf").content


def _widths(pdf: bytes) -> list[float]:
    reader = PdfFileReader(BytesIO(pdf))
    return [
        float(field.get_object()["/Rect"][2]) - float(field.get_object()["/Rect"][0])
        for _, _, field in enumerate_sig_fields(reader)
    ]


def test_the_form_offers_a_seal_bottom_right_by_default(
    site: TestClient, logged_in: Account
) -> None:
    form = site.get("/signer/nouveau")

    assert "Sceau visible" in shown(form)
    assert '<option value="aucun">Aucun (signature invisible)' in form.text
    assert '<option value="bas_droite" selected>' in form.text


def test_the_default_seal_carries_the_verification_qr_code(
    site: TestClient,
    runtime: Runtime,
    logged_in: Account,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    review_url = _upload(site, many_pages_pdf(2), seal=None)
    review = site.get(review_url)
    assert "En bas à droite de la dernière page" in shown(review)

    ref, pdf = _sign_and_download(site, review_url, logged_in, clock)

    path = tmp_path / "signe.pdf"
    path.write_bytes(pdf)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    [block] = pdfsig_signatures(output)
    assert block["Signature Validation"] == "Signature is Valid.", output
    assert block["Certificate Validation"] == "Certificate is Trusted.", output
    assert qr_code_on_last_page(path, tmp_path) == verification_page_url(
        runtime.settings.public_base_url, ref
    )
    assert _widths(pdf) == [260.0]


def test_no_seal_signs_invisibly(
    site: TestClient,
    logged_in: Account,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    review_url = _upload(site, many_pages_pdf(1), seal="aucun")
    assert "Aucun (signature invisible)" in shown(site.get(review_url))

    _, pdf = _sign_and_download(site, review_url, logged_in, clock)

    path = tmp_path / "signe.pdf"
    path.write_bytes(pdf)
    assert qr_code_on_last_page(path, tmp_path) == ""
    assert _widths(pdf) == [0.0]


def test_an_unknown_seal_place_is_refused(site: TestClient, logged_in: Account) -> None:
    form = site.get("/signer/nouveau")

    refused = site.post(
        "/signer/nouveau",
        data={"csrf": csrf_of(form), "motif": REASON, "niveau": "B-T", "sceau": "x"},
        files={"fichier": ("acte.pdf", many_pages_pdf(1), "application/pdf")},
    )

    assert refused.status_code == 422
    assert "Emplacement du sceau inconnu." in shown(refused)
