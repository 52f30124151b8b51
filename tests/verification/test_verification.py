"""Public verification of signed PDFs: what a relying party learns about
documents signed through the API, tampered with, or signed elsewhere."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature

from sceau.runtime import Runtime
from tests.conftest import LABEL, Provisioned
from tests.support.pdfs import one_page_pdf
from tests.verification.conftest import (
    MOTIF,
    VERIFY_URL,
    Signed,
    expired_key,
    foreign_key,
    identity_key,
    revoke_identity,
    sign_directly,
    sign_through_api,
    verify,
)

# What is judged is the file; storage is exercised on both backends by the
# rate-limit and lookup tests below.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _only(report: dict[str, Any]) -> dict[str, Any]:
    [signature] = [s for s in report["signatures"] if s["type"] == "signature"]
    return signature


def _verdict(signature: dict[str, Any]) -> tuple[str, str | None]:
    return signature["verdict"]["indication"], signature["verdict"]["sous_indication"]


# -- documents signed by the service -----------------------------------------


@sqlite_only
@pytest.mark.parametrize("level", ["B-T", "B-LT"])
def test_verify_signed_document_passes(
    api: TestClient, atlanta: Provisioned, level: str
) -> None:
    signed = sign_through_api(api, atlanta, level)

    report = verify(api, signed.pdf)

    assert report["statut"] == "signe"
    assert report["verdict"]["indication"] == "TOTAL-PASSED"
    signature = _only(report)
    assert _verdict(signature) == ("TOTAL-PASSED", None)
    assert signature["champ"] == f"Sceau-{signed.ref}"
    assert signature["signataire"]["nom"] == LABEL
    assert signature["code_09"] == "09S-ATLANTASYS-X"
    assert signature["mode"] == "systeme"
    assert signature["ref_signature"] == signed.ref
    assert signature["motif"] == MOTIF
    assert signature["niveau_pades"] == level
    assert signature["heure_signature"]["horodatage_verifie"] is True
    assert signature["heure_signature"]["autorite_horodatage"] == "Pixel Sceau TSA"
    stamped = datetime.fromisoformat(signature["heure_signature"]["horodatage"])
    assert abs(stamped.timestamp() - datetime.now().timestamp()) < 120
    assert signature["integrite"]["intacte"] is True
    assert signature["integrite"]["modifications_autorisees"] is True
    assert signature["chaine"]["de_confiance"] is True
    assert signature["chaine"]["ancre"] == "Pixel Sceau Root CA"
    assert signature["revocation"]["statut"] == "non_revoque"
    assert signature["ancrage"]["statut"] == "en_attente"
    assert signature["ancrage"]["ref_horodatage"] == signed.ref_horodatage
    assert "Signature valide" in signature["verdict"]["explication"]
    assert LABEL in signature["verdict"]["explication"]


@sqlite_only
def test_verify_b_lta_reports_the_document_timestamp(
    api: TestClient, atlanta: Provisioned
) -> None:
    signed = sign_through_api(api, atlanta, "B-LTA")

    report = verify(api, signed.pdf)

    assert report["verdict"]["indication"] == "TOTAL-PASSED"
    kinds = [s["type"] for s in report["signatures"]]
    assert kinds == ["signature", "horodatage_document"]
    assert _only(report)["niveau_pades"] == "B-LTA"
    stamp = report["signatures"][1]
    assert _verdict(stamp) == ("TOTAL-PASSED", None)
    assert stamp["signataire"]["nom"] == "Pixel Sceau TSA"


@sqlite_only
def test_verify_agrees_with_pyhanko_own_validation(
    runtime: Runtime, signed_b_lt: Signed
) -> None:
    """The independent check: pyHanko's classic validator, fed the same root
    and CRLs, says the same of the same file."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko_certvalidator import ValidationContext

    der = serialization.Encoding.DER
    with runtime.db.sessions() as session:
        crls = [asn1_crl.CertificateList.load(c) for c in runtime.pki.crls(session)]
    context = ValidationContext(
        trust_roots=[
            asn1_x509.Certificate.load(runtime.pki.root_cert.public_bytes(der))
        ],
        crls=crls,
        allow_fetching=False,
        revocation_mode="hard-fail",
    )
    [signature] = PdfFileReader(BytesIO(signed_b_lt.pdf)).embedded_regular_signatures

    status = validate_pdf_signature(signature, context)

    assert status.bottom_line, status.pretty_print_details()


# -- tampered documents ---------------------------------------------------------


@sqlite_only
def test_verify_byte_flipped_in_signed_range_fails(
    api: TestClient, signed_b_lt: Signed
) -> None:
    position = signed_b_lt.pdf.index(b"(Attestation de garantie")
    tampered = bytearray(signed_b_lt.pdf)
    tampered[position + 1] = ord("B")

    report = verify(api, bytes(tampered))

    signature = _only(report)
    assert _verdict(signature) == ("TOTAL-FAILED", "HASH_FAILURE")
    assert signature["integrite"]["intacte"] is False
    assert "modifié après sa signature" in signature["verdict"]["explication"]
    assert report["verdict"]["indication"] == "TOTAL-FAILED"
    # The record is not claimed for bytes the service did not deliver.
    assert signature["mode"] is None


@sqlite_only
def test_verify_content_added_in_later_update_is_not_allowed(
    api: TestClient, signed_b_lt: Signed
) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(signed_b_lt.pdf))
    extra = generic.StreamObject(
        stream_data=b"BT /F1 14 Tf 72 700 Td (Montant garanti : 1 000 000) Tj ET"
    )
    writer.add_stream_to_page(0, writer.add_object(extra))
    out = BytesIO()
    writer.write(out)

    report = verify(api, out.getvalue())

    signature = _only(report)
    assert _verdict(signature) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")
    assert signature["integrite"]["intacte"] is True
    assert signature["integrite"]["modifications"] == "autres"
    assert signature["integrite"]["modifications_autorisees"] is False
    assert "n'autorise pas" in signature["verdict"]["explication"]
    assert report["verdict"]["indication"] == "INDETERMINATE"


@sqlite_only
def test_verify_signature_replaced_by_another_fails(
    api: TestClient, atlanta: Provisioned, signed_b_lt: Signed
) -> None:
    other = sign_through_api(api, atlanta, "B-LT", one_page_pdf("Un autre acte"))

    def contents(pdf: bytes) -> tuple[int, int]:
        reader = PdfFileReader(BytesIO(pdf))
        [signature] = reader.embedded_regular_signatures
        ranges = [int(n) for n in signature.sig_object["/ByteRange"]]
        return ranges[1], ranges[2]

    start, end = contents(signed_b_lt.pdf)
    other_start, other_end = contents(other.pdf)
    assert end - start == other_end - other_start
    swapped = (
        signed_b_lt.pdf[:start]
        + other.pdf[other_start:other_end]
        + signed_b_lt.pdf[end:]
    )

    signature = _only(verify(api, swapped))

    assert _verdict(signature) == ("TOTAL-FAILED", "HASH_FAILURE")


@sqlite_only
def test_verify_truncated_file_is_refused_clearly(
    api: TestClient, signed_b_lt: Signed
) -> None:
    truncated = signed_b_lt.pdf[: len(signed_b_lt.pdf) // 2]

    response = api.post(VERIFY_URL, files={"fichier": ("acte.pdf", truncated)})

    assert response.status_code == 422, response.text
    error = response.json()["erreur"]
    assert error["code"] == "pdf_illisible"
    assert "tronqué" in error["message"]


@sqlite_only
def test_verify_pdf_without_signature_says_so(api: TestClient) -> None:
    report = verify(api, one_page_pdf())

    assert report["statut"] == "non_signe"
    assert report["signatures"] == []
    assert report["verdict"]["indication"] == "INDETERMINATE"
    assert "aucune signature" in report["verdict"]["explication"]


@sqlite_only
@pytest.mark.parametrize(
    "content", [b"", b"Bonjour, ceci n'est pas un PDF.", b"%PDF-1.7\n\x00\xff garbage"]
)
def test_verify_not_a_pdf_is_422(api: TestClient, content: bytes) -> None:
    response = api.post(VERIFY_URL, files={"fichier": ("acte.pdf", content)})

    assert response.status_code == 422, response.text
    assert response.json()["erreur"]["code"] == "pdf_illisible"


# -- certificates the service would not sign with -----------------------------


@sqlite_only
def test_verify_signature_made_after_revocation_fails(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    revoke_identity(runtime, atlanta.code_09, ago=timedelta(minutes=10))
    # A stolen key used after the revocation: the service itself refuses.
    pdf = sign_directly(runtime, identity_key(runtime, atlanta.code_09))

    signature = _only(verify(api, pdf))

    assert _verdict(signature) == ("TOTAL-FAILED", "REVOKED")
    assert signature["revocation"]["statut"] == "revoque"
    assert "révoqué" in signature["verdict"]["explication"]


@sqlite_only
def test_verify_signature_made_before_revocation_stays_valid(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, signed_b_lt: Signed
) -> None:
    revoke_identity(runtime, atlanta.code_09, ago=timedelta(seconds=-1))

    signature = _only(verify(api, signed_b_lt.pdf))

    assert _verdict(signature) == ("TOTAL-PASSED", None)
    assert signature["revocation"]["statut"] == "revoque"
    assert "reste valable" in signature["verdict"]["explication"]


@sqlite_only
def test_verify_signature_made_after_expiry_fails(
    runtime: Runtime, api: TestClient
) -> None:
    pdf = sign_directly(runtime, expired_key(runtime))

    signature = _only(verify(api, pdf))

    assert _verdict(signature) == ("TOTAL-FAILED", "EXPIRED")
    assert "après l'expiration" in signature["verdict"]["explication"]
    assert signature["mode"] is None


@sqlite_only
def test_verify_foreign_signature_is_intact_but_not_trusted(
    runtime: Runtime, api: TestClient
) -> None:
    pdf = sign_directly(
        runtime, foreign_key(), level="B-B", signer_name="Autre Service"
    )

    report = verify(api, pdf)

    signature = _only(report)
    assert _verdict(signature) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    assert signature["integrite"]["intacte"] is True
    assert signature["chaine"]["de_confiance"] is False
    assert signature["signataire"]["nom"] == "Autre Service"
    assert signature["ancrage"]["statut"] == "non_ancre"
    assert "mathématiquement intacte" in signature["verdict"]["explication"]
    assert "ne connaît pas" in signature["verdict"]["explication"]
    assert report["verdict"]["indication"] == "INDETERMINATE"


# -- the request ---------------------------------------------------------------------


@sqlite_only
def test_multipart_and_json_give_the_same_report(
    api: TestClient, signed_b_lt: Signed
) -> None:
    by_file = verify(api, signed_b_lt.pdf)
    response = api.post(
        VERIFY_URL, json={"pdf_b64": base64.b64encode(signed_b_lt.pdf).decode()}
    )
    assert response.status_code == 200, response.text
    by_json = response.json()

    by_file.pop("verifie_le")
    by_json.pop("verifie_le")
    assert by_file == by_json


@sqlite_only
def test_json_with_invalid_base64_is_refused(api: TestClient) -> None:
    response = api.post(VERIFY_URL, json={"pdf_b64": "pas du base64 !"})

    assert response.status_code == 400
    assert response.json()["erreur"]["code"] == "base64_invalide"


@sqlite_only
def test_request_without_document_is_refused(api: TestClient) -> None:
    response = api.post(VERIFY_URL, files={"autre": ("a.pdf", b"x")})

    assert response.status_code == 422
    assert response.json()["erreur"]["code"] == "document_absent"


def test_rate_limit_answers_429_with_retry_after(
    runtime: Runtime, api: TestClient
) -> None:
    runtime.settings.verification_rate_per_minute = 2
    # Mid-minute, so that the three requests fall in one window whatever the
    # real clock says.
    at = datetime(2026, 12, 10, 9, 30, 20, tzinfo=UTC)
    api.app.state.api_clock = lambda: at  # type: ignore[attr-defined]
    pdf = one_page_pdf()

    answers = [
        api.post(VERIFY_URL, files={"fichier": ("a.pdf", pdf)}) for _ in range(3)
    ]

    assert [a.status_code for a in answers] == [200, 200, 429]
    refused = answers[2]
    assert refused.json()["erreur"]["code"] == "trop_de_verifications"
    assert refused.headers["Retry-After"] == "40"


# -- the service's record, by reference ----------------------------------------


def test_lookup_by_ref_shows_the_record_without_private_data(
    api: TestClient, atlanta: Provisioned
) -> None:
    signed = sign_through_api(api, atlanta, "B-T")

    response = api.get(f"{VERIFY_URL}/{signed.ref}")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ref_signature"] == signed.ref
    assert body["signataire"] == LABEL
    assert body["code_09"] == atlanta.code_09
    assert body["mode"] == "systeme"
    assert body["niveau_pades"] == "B-T"
    assert body["motif"] == MOTIF
    assert body["ref_horodatage"] == signed.ref_horodatage
    assert body["ancrage"]["statut"] == "en_attente"
    assert len(body["sha256_signe"]) == 64
    text = response.text
    assert atlanta.client_id not in text
    assert "callback" not in text and "client" not in text


@pytest.mark.parametrize("ref", ["SIG-20261203-ZZZZZZ", "inconnue", "SIG-1"])
def test_lookup_of_unknown_ref_is_404(api: TestClient, ref: str) -> None:
    response = api.get(f"{VERIFY_URL}/{ref}")

    assert response.status_code == 404
    assert response.json()["erreur"]["code"] == "signature_inconnue"
