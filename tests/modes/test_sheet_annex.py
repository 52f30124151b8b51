"""The integrators' sheet, section 7: its request, sent as is, is signed."""

from __future__ import annotations

import base64
import hashlib

from fastapi.testclient import TestClient

from tests.conftest import Provisioned, sign_body
from tests.support.pdfs import large_pdf


def test_sheet_annex_request_is_signed(
    api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    response = api.post(
        "/api/v1/sceau/b2b/signer",
        headers={"X-Identity-API-Key": atlanta.api_key},
        json={
            "code_09": "09S-ATLANTASYS-X",
            "nom_signataire": "Atlanta Assurances – système de production",
            "motif": "Attestation de garantie n° 2026-04231",
            "pdf_b64": base64.b64encode(pdf).decode(),
            "callback_url": "https://atlanta.example.ci/sceau/callback",
        },
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "statut",
        "ref_signature",
        "pdf_signe_b64",
        "sha256_signe",
        "ref_horodatage",
        "duree_traitement_ms",
    }
    assert body["statut"] == "signe"
    assert body["ref_signature"].startswith("SIG-")
    assert body["ref_horodatage"].startswith("HRD-")
    signed = base64.b64decode(body["pdf_signe_b64"])
    assert signed.startswith(pdf[:8])
    assert hashlib.sha256(signed).hexdigest() == body["sha256_signe"]
    assert isinstance(body["duree_traitement_ms"], int)
    assert response.headers["x-request-id"].startswith("req_")


def test_large_answer_is_whole_json_of_the_declared_length(
    api: TestClient, atlanta: Provisioned
) -> None:
    source = large_pdf(1_000_001)  # several base64 slices, not a multiple of 3

    response = api.post(
        "/api/v1/sceau/b2b/signer",
        headers=atlanta.headers,
        json=sign_body(atlanta, source, niveau="B-B"),
    )

    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    signed = base64.b64decode(response.json()["pdf_signe_b64"], validate=True)
    assert hashlib.sha256(signed).hexdigest() == response.json()["sha256_signe"]
    assert signed.startswith(source[:1024])
