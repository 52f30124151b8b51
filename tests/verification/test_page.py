"""The public verification page: a PDF dropped by anyone, its verdict in
plain words then in detail, the record behind a seal's QR code, the reports
to download (the PDF one signed by Pixel Sceau, as pdfsig and pdftotext see
it), and the same refusals as the API, drawn as pages."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.documents.sealing import SERVICE_CODE_09, SERVICE_LABEL, service_identity
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from tests.conftest import LABEL, Provisioned
from tests.support.pdfs import one_page_pdf
from tests.support.validators import (
    nss_db,
    pdfsig,
    pdfsig_signatures,
    pdftotext,
)
from tests.verification.conftest import MOTIF, VERIFY_URL, Signed, sign_through_api
from tests.web.test_page_structure import _check as check_page

PAGE = "/verifier-signature"
BASE_URL = "https://sceau.example.ci"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_HIDDEN = re.compile(r'name="(rapport|expire|sceau)" value="([^"]*)"')

# What is judged is the file (tests/verification covers it on both
# databases); the pages' rate and lookups run on both below.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def site(runtime: Runtime) -> Iterator[TestClient]:
    """A visitor's browser, over https as in production (Secure cookies)."""
    app = create_app(runtime.settings, runtime)
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        yield client


@pytest.fixture
def signed(site: TestClient, atlanta: Provisioned) -> Signed:
    return sign_through_api(site, atlanta, "B-T")


def shown(page: httpx.Response) -> str:
    return html.unescape(page.text)


def drop(site: TestClient, pdf: bytes, name: str = "acte.pdf") -> httpx.Response:
    form = site.get(PAGE)
    token = _CSRF.search(form.text)
    assert token, form.text
    return site.post(
        PAGE,
        data={"csrf": token.group(1)},
        files={"fichier": (name, pdf, "application/pdf")},
    )


def download(site: TestClient, result: httpx.Response, fmt: str) -> httpx.Response:
    fields = dict(_HIDDEN.findall(result.text))
    token = _CSRF.search(result.text)
    assert token and fields, result.text
    return site.post(
        f"{PAGE}/rapport", data={"csrf": token.group(1), "format": fmt, **fields}
    )


def _trusted_signer(tmp_path: Path, runtime: Runtime, pdf: bytes) -> dict[str, str]:
    path = tmp_path / "rapport.pdf"
    path.write_bytes(pdf)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    [block] = pdfsig_signatures(output)
    assert block["Signature Validation"] == "Signature is Valid.", output
    assert block["Certificate Validation"] == "Certificate is Trusted.", output
    return block


# -- the page --------------------------------------------------------------------


@sqlite_only
def test_the_page_renders_with_a_labelled_form(site: TestClient) -> None:
    page = site.get(PAGE)

    assert page.status_code == 200
    check_page(page)
    assert "Vérifier un document signé" in shown(page)
    assert 'enctype="multipart/form-data"' in page.text
    cookie = page.headers["set-cookie"]
    assert "sceau_visiteur=" in cookie
    assert "Path=/verifier-signature" in cookie
    assert "Secure" in cookie and "HttpOnly" in cookie


@sqlite_only
def test_a_signed_document_is_explained_in_plain_words(
    site: TestClient, signed: Signed, atlanta: Provisioned
) -> None:
    result = drop(site, signed.pdf)

    assert result.status_code == 200, result.text
    check_page(result)
    text = shown(result)
    assert "Document valide" in text
    assert "Signature valide : le document a été signé par " + LABEL in text
    for fact in (
        f"{LABEL} ({atlanta.code_09})",
        "heure attestée par Pixel Sceau TSA",
        "Système : le cachet d'une organisation",
        f"référence {signed.ref}",
        MOTIF,
        "Non, le document n'a pas été modifié depuis.",
        "délivré par une autorité de confiance (Pixel Sceau Root CA)",
        "certificat non révoqué",
        "B-T — signature horodatée",
        f"en attente ({signed.ref_horodatage})",
        # The specialist's details, below.
        "TOTAL-PASSED",
        "Couverture",
        "Pixel Sceau Issuing CA",
    ):
        assert fact in text, fact
    assert text.index("Document valide") < text.index("TOTAL-PASSED")


@sqlite_only
def test_a_tampered_document_is_said_to_be_invalid(
    site: TestClient, signed: Signed
) -> None:
    position = signed.pdf.index(b"(Attestation de garantie")
    tampered = bytearray(signed.pdf)
    tampered[position + 1] = ord("B")

    result = drop(site, bytes(tampered))

    assert result.status_code == 200
    text = shown(result)
    assert "Document non valide" in text
    assert "le document a été modifié après sa signature" in text
    assert "Oui : la partie signée a été modifiée." in text
    assert "HASH_FAILURE" in text


@sqlite_only
def test_a_document_without_signature_says_so(site: TestClient) -> None:
    result = drop(site, one_page_pdf())

    assert result.status_code == 200
    assert "Document non signé" in shown(result)
    assert "ne porte aucune signature électronique" in shown(result)


@sqlite_only
@pytest.mark.parametrize("content", [b"bonjour", b"%PDF-1.7\n garbage"])
def test_not_a_pdf_is_a_422_page(site: TestClient, content: bytes) -> None:
    refused = drop(site, content, name="note.txt")

    assert refused.status_code == 422
    check_page(refused)
    assert 'role="alert"' in refused.text
    assert "PDF" in shown(refused)


@sqlite_only
def test_a_form_without_its_token_is_refused(site: TestClient) -> None:
    site.get(PAGE)

    refused = site.post(
        PAGE, data={"csrf": "faux"}, files={"fichier": ("a.pdf", one_page_pdf())}
    )

    assert refused.status_code == 403
    check_page(refused)
    assert "Ce formulaire a expiré" in shown(refused)
    assert 'href="/verifier-signature"' in refused.text


@sqlite_only
def test_errors_under_the_page_are_pages(site: TestClient, runtime: Runtime) -> None:
    limit = runtime.settings.max_body_bytes
    for answer in (
        site.get(f"{PAGE}/inconnue"),
        site.put(PAGE),
        site.post(
            PAGE,
            content=b"x" * (limit + 1),
            headers={"content-type": "multipart/form-data; boundary=x"},
        ),
    ):
        assert answer.status_code in (404, 405, 413), answer.status_code
        assert answer.headers["content-type"].startswith("text/html")
        assert '<html lang="fr">' in answer.text


def test_too_many_verifications_is_a_429_page(
    site: TestClient, runtime: Runtime
) -> None:
    runtime.settings.verification_rate_per_minute = 2
    pdf = one_page_pdf()

    answers = [drop(site, pdf) for _ in range(2)]
    refused = drop(site, pdf)
    api = site.post(VERIFY_URL, files={"fichier": ("a.pdf", pdf)})

    assert [a.status_code for a in answers] == [200, 200]
    assert refused.status_code == 429
    check_page(refused)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Trop de vérifications" in shown(refused)
    # One budget for the page and the API.
    assert api.status_code == 429


# -- the record behind a seal's QR code ----------------------------------------


def test_the_reference_shows_what_was_recorded(
    site: TestClient, signed: Signed, atlanta: Provisioned
) -> None:
    page = site.get(PAGE, params={"ref": signed.ref})

    assert page.status_code == 200
    check_page(page)
    text = shown(page)
    assert f"Signature {signed.ref}" in text
    assert f"{LABEL} ({atlanta.code_09})" in text
    assert MOTIF in text
    assert "B-T — signature horodatée" in text
    assert "déposez-le ci-dessous" in text
    assert atlanta.client_id not in text


@pytest.mark.parametrize("ref", ["SIG-20261203-ZZZZZZ", "inconnue"])
def test_an_unknown_reference_is_a_404_page(site: TestClient, ref: str) -> None:
    page = site.get(PAGE, params={"ref": ref})

    assert page.status_code == 404
    check_page(page)
    assert "Aucune signature apposée par Pixel Sceau" in shown(page)


# -- the reports -------------------------------------------------------------------


@sqlite_only
def test_the_json_report_is_the_api_report(site: TestClient, signed: Signed) -> None:
    result = drop(site, signed.pdf)

    answer = download(site, result, "json")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert "attachment" in answer.headers["content-disposition"]
    report = json.loads(answer.content)
    api = site.post(VERIFY_URL, files={"fichier": ("a.pdf", signed.pdf)}).json()
    report.pop("verifie_le")
    api.pop("verifie_le")
    assert report == api


@sqlite_only
def test_the_pdf_report_is_signed_by_pixel_sceau(
    site: TestClient, runtime: Runtime, signed: Signed, tmp_path: Path
) -> None:
    result = drop(site, signed.pdf)

    answer = download(site, result, "pdf")

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    block = _trusted_signer(tmp_path, runtime, answer.content)
    assert block["Signer Certificate Common Name"] == SERVICE_LABEL
    text = " ".join(pdftotext(tmp_path / "rapport.pdf").split())
    assert "Rapport de vérification de signatures" in text
    assert "Signature valide : le document a été signé par " + LABEL in text
    assert f"{LABEL} (09S-ATLANTASYS-X)" in text
    assert f"signé électroniquement par {SERVICE_LABEL} ({SERVICE_CODE_09})" in text
    assert "Non, le document n'a pas été modifié depuis." in text
    assert re.search(r"[0-9a-f]{64}", text)
    with runtime.db.sessions() as session:
        record = session.get(SignatureRecord, answer.headers["x-ref-signature-rapport"])
    assert record is not None
    assert record.code_09 == SERVICE_CODE_09


@sqlite_only
def test_a_report_altered_in_the_page_is_refused(
    site: TestClient, signed: Signed
) -> None:
    result = drop(site, signed.pdf)
    fields = dict(_HIDDEN.findall(result.text))
    token = _CSRF.search(result.text)
    assert token

    refused = site.post(
        f"{PAGE}/rapport",
        data={**fields, "csrf": token.group(1), "expire": "9999999999"},
    )

    assert refused.status_code == 410
    check_page(refused)


# -- the API's PDF report ----------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize(
    ("query", "headers"),
    [("?format=pdf", {}), ("", {"Accept": "application/pdf"})],
)
def test_the_api_gives_the_signed_pdf_report(
    site: TestClient,
    runtime: Runtime,
    signed: Signed,
    tmp_path: Path,
    query: str,
    headers: dict[str, str],
) -> None:
    answer = site.post(
        VERIFY_URL + query,
        files={"fichier": ("a.pdf", signed.pdf)},
        headers=headers,
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    block = _trusted_signer(tmp_path, runtime, answer.content)
    assert block["Signer Certificate Common Name"] == SERVICE_LABEL
    assert "Document valide" in pdftotext(tmp_path / "rapport.pdf")


@sqlite_only
def test_the_service_identity_is_made_once(runtime: Runtime) -> None:
    first = service_identity(runtime)
    again = service_identity(runtime)

    assert first.code_09 == again.code_09 == SERVICE_CODE_09
    assert first.certificate_der == again.certificate_der
    assert first.client_id == "cli_pixelsceau"
