"""Reading a signature back: its record for the owner only, the signed PDF for
as long as it is kept; request ids as the caller sees them."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from sceau.db import utcnow
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from tests.conftest import Provisioned, provision, sign_body
from tests.modes.test_signing_errors import assert_french_error, row_counts

SIGN = "/api/v1/sceau/b2b/signer"
RECORDS = "/api/v1/sceau/b2b/signatures"
CALLBACK = "https://atlanta.example.ci/sceau/callback"
GENERATED_ID = re.compile(r"^req_[0-9a-f]{24}$")


def _sign(
    api: TestClient,
    provisioned: Provisioned,
    pdf: bytes,
    headers: dict[str, str] | None = None,
    **overrides: object,
) -> httpx.Response:
    response = api.post(
        SIGN,
        headers={**provisioned.headers, **(headers or {})},
        json=sign_body(provisioned, pdf, **overrides),
    )
    assert response.status_code == 200, response.text
    return response


def test_read_signature_returns_record_to_owner(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    signed = _sign(api, atlanta, pdf, callback_url=CALLBACK)
    answer = signed.json()

    response = api.get(f"{RECORDS}/{answer['ref_signature']}", headers=atlanta.headers)

    assert response.status_code == 200, response.text
    record = response.json()
    signed_pdf = base64.b64decode(answer["pdf_signe_b64"])
    assert record["ref_signature"] == answer["ref_signature"]
    assert record["statut"] == "signe"
    assert record["mode"] == "systeme"
    assert record["code_09"] == "09S-ATLANTASYS-X"
    assert record["nom_signataire"] == atlanta.label
    assert record["motif"] == "Attestation de garantie n° 2026-04231"
    assert record["niveau"] == "B-LT"
    assert record["sha256_signe"] == answer["sha256_signe"]
    assert record["sha256_signe"] == hashlib.sha256(signed_pdf).hexdigest()
    assert record["sha256_source"] == hashlib.sha256(pdf).hexdigest()
    assert record["taille_source"] == len(pdf)
    assert record["taille_signe"] == len(signed_pdf)
    assert record["ref_horodatage"] == answer["ref_horodatage"]
    assert record["ref_horodatage"].startswith("HRD-")
    assert record["callback_url"] == CALLBACK
    assert record["id_requete"] == signed.headers["x-request-id"]
    assert record["duree_traitement_ms"] == answer["duree_traitement_ms"]
    assert "pdf_signe_b64" not in record


def test_read_signature_records_requested_level_and_no_callback(
    api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    ref = _sign(api, atlanta, pdf, niveau="B-B").json()["ref_signature"]

    record = api.get(f"{RECORDS}/{ref}", headers=atlanta.headers).json()

    assert record["niveau"] == "B-B"
    assert record["callback_url"] is None


def test_read_signature_with_other_client_key_is_unknown(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    ref = _sign(api, atlanta, pdf).json()["ref_signature"]
    other = provision(
        runtime, name="Banque Lagune", label="Banque Lagune – guichet", body="LAGUNEBQ"
    )

    record = api.get(f"{RECORDS}/{ref}", headers=other.headers)
    document = api.get(f"{RECORDS}/{ref}/pdf", headers=other.headers)

    assert_french_error(record, 404, "signature_inconnue")
    assert_french_error(document, 404, "signature_inconnue")
    # Refused as unknown, exactly as a reference that never existed.
    unknown = api.get(f"{RECORDS}/SIG-20260101-ZZZZZZ", headers=other.headers)
    assert record.json() == unknown.json()


@pytest.mark.parametrize(
    "ref",
    [
        "SIG-20260101-ZZZZZZ",
        "SIG-20260101-zzzzzz",
        "sig-20260101-ZZZZZZ",
        "SIG-2026-ZZZZZZ",
        "n-importe-quoi",
        "SIG-20260101-ZZZZZZ%0A",
        "SIG-%D9%A2%D9%A0%D9%A2%D9%A6%D9%A0%D9%A1%D9%A0%D9%A1-ZZZZZZ",
        "S" * 300,
        "%27%20OR%201%3D1%20--",
    ],
)
def test_read_signature_with_unknown_ref_is_unknown(
    api: TestClient, atlanta: Provisioned, pdf: bytes, ref: str
) -> None:
    _sign(api, atlanta, pdf)

    record = api.get(f"{RECORDS}/{ref}", headers=atlanta.headers)
    document = api.get(f"{RECORDS}/{ref}/pdf", headers=atlanta.headers)

    assert_french_error(record, 404, "signature_inconnue")
    assert_french_error(document, 404, "signature_inconnue")


def test_download_signed_pdf_returns_signed_bytes(
    api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    answer = _sign(api, atlanta, pdf).json()
    ref = answer["ref_signature"]

    response = api.get(f"{RECORDS}/{ref}/pdf", headers=atlanta.headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == base64.b64decode(answer["pdf_signe_b64"])
    assert hashlib.sha256(response.content).hexdigest() == answer["sha256_signe"]
    assert f'filename="{ref}.pdf"' in response.headers["content-disposition"]


def test_download_signed_pdf_after_retention_is_gone(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    ref = _sign(api, atlanta, pdf).json()["ref_signature"]
    with runtime.db.transaction() as session:
        session.execute(
            update(SignatureRecord)
            .where(SignatureRecord.ref == ref)
            .values(keep_until=utcnow() - timedelta(seconds=1))
        )
    before = row_counts(runtime)

    document = api.get(f"{RECORDS}/{ref}/pdf", headers=atlanta.headers)
    record = api.get(f"{RECORDS}/{ref}", headers=atlanta.headers)

    assert_french_error(document, 410, "document_expire")
    assert record.status_code == 200, record.text
    assert record.json()["ref_signature"] == ref
    assert row_counts(runtime) == before


@pytest.mark.parametrize("suffix", ["", "/pdf"])
@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "cle_api_manquante"),
        ({"X-Identity-API-Key": "psk_000000000000_inconnue"}, "cle_api_invalide"),
    ],
)
def test_read_signature_without_valid_key_is_refused(
    api: TestClient,
    atlanta: Provisioned,
    pdf: bytes,
    suffix: str,
    headers: dict[str, str],
    code: str,
) -> None:
    ref = _sign(api, atlanta, pdf).json()["ref_signature"]

    response = api.get(f"{RECORDS}/{ref}{suffix}", headers=headers)

    assert_french_error(response, 401, code)


# --- Request ids ------------------------------------------------------------


def test_sign_echoes_sane_incoming_request_id(
    api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    incoming = "atlanta:lot-2026.05_0001"

    signed = _sign(api, atlanta, pdf, headers={"X-Request-Id": incoming})
    record = api.get(
        f"{RECORDS}/{signed.json()['ref_signature']}", headers=atlanta.headers
    )

    assert signed.headers["x-request-id"] == incoming
    assert record.json()["id_requete"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        "id avec des espaces",
        "a" * 200,
        "a" * 65,
        "court",
        "<script>alert(1)</script>",
        "req;DROP TABLE signatures",
        "",
    ],
)
def test_sign_replaces_malicious_incoming_request_id(
    api: TestClient, atlanta: Provisioned, pdf: bytes, incoming: str
) -> None:
    signed = _sign(api, atlanta, pdf, headers={"X-Request-Id": incoming})
    record = api.get(
        f"{RECORDS}/{signed.json()['ref_signature']}", headers=atlanta.headers
    )

    assert GENERATED_ID.match(signed.headers["x-request-id"])
    assert record.json()["id_requete"] == signed.headers["x-request-id"]
    assert GENERATED_ID.match(record.headers["x-request-id"])
    assert record.headers["x-request-id"] != signed.headers["x-request-id"]


def test_error_answer_carries_request_id(api: TestClient, atlanta: Provisioned) -> None:
    response = api.get(
        f"{RECORDS}/SIG-20260101-ZZZZZZ", headers={"X-Request-Id": "x y"}
    )

    assert_french_error(response, 401, "cle_api_manquante")
    assert GENERATED_ID.match(response.headers["x-request-id"])
