"""``POST /tsa`` as an RFC 3161 client sees it: requests built by ``openssl ts
-query``, replies checked by ``openssl ts -verify`` against the CA certificates
the service publishes under ``/pki/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient

from tests.support.pdfs import one_page_pdf
from tests.support.validators import openssl, openssl_ts_verify

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


def _published_ca(api: TestClient, tmp_path: Path) -> tuple[Path, Path]:
    """``root.pem`` from /pki/root.crt, ``chain.pem`` from the DER /pki/issuing.crt."""
    root = tmp_path / "root.pem"
    root.write_bytes(api.get("/pki/root.crt").content)
    issuing = x509.load_der_x509_certificate(api.get("/pki/issuing.crt").content)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(issuing.public_bytes(serialization.Encoding.PEM))
    return root, chain


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "attestation.pdf"
    path.write_bytes(one_page_pdf())
    return path


def _query(document: Path, tmp_path: Path) -> bytes:
    request = tmp_path / "request.tsq"
    result = openssl(
        "ts", "-query", "-data", document, "-sha256", "-cert", "-out", request
    )
    assert result.returncode == 0, result.stderr
    return request.read_bytes()


def _stamp(api: TestClient, document: Path, tmp_path: Path) -> Path:
    response = api.post(
        "/tsa", content=_query(document, tmp_path), headers={"Content-Type": QUERY_TYPE}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == REPLY_TYPE
    reply = tmp_path / "reply.tsr"
    reply.write_bytes(response.content)
    return reply


def test_post_tsa_with_openssl_query_returns_reply_openssl_verifies(
    api: TestClient, document: Path, tmp_path: Path
) -> None:
    root, chain = _published_ca(api, tmp_path)

    reply = _stamp(api, document, tmp_path)

    verified = openssl_ts_verify(reply, data=document, ca_file=root, untrusted=chain)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Verification: OK" in verified.stdout
    text = openssl("ts", "-reply", "-in", reply, "-text")
    assert "Status: Granted." in text.stdout
    assert "Hash Algorithm: sha256" in text.stdout
    assert "CN=Pixel Sceau TSA" in text.stdout


def test_post_tsa_reply_carries_tsa_certificate_with_critical_timestamping_eku(
    api: TestClient, document: Path, tmp_path: Path
) -> None:
    reply = _stamp(api, document, tmp_path)
    token = tmp_path / "token.der"
    extracted = openssl("ts", "-reply", "-in", reply, "-token_out", "-out", token)
    assert extracted.returncode == 0, extracted.stderr

    certificates = pkcs7.load_der_pkcs7_certificates(token.read_bytes())

    [tsa] = [
        c
        for c in certificates
        if c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        == "Pixel Sceau TSA"
    ]
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_post_tsa_with_wrong_content_type_is_refused(api: TestClient) -> None:
    response = api.post(
        "/tsa", content=b"\x30\x00", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["erreur"]
    assert error["code"] == "type_contenu_invalide"
    assert QUERY_TYPE in error["message"]


def test_post_tsa_with_garbage_returns_rejection(
    api: TestClient, tmp_path: Path
) -> None:
    response = api.post(
        "/tsa",
        content=b"ceci n'est pas une requete RFC 3161",
        headers={"Content-Type": QUERY_TYPE},
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == REPLY_TYPE
    reply = tmp_path / "rejection.tsr"
    reply.write_bytes(response.content)
    text = openssl("ts", "-reply", "-in", reply, "-text")
    assert text.returncode == 0, text.stderr
    assert "Status: Rejected." in text.stdout
    assert "Failure info: the data submitted has the wrong format" in text.stdout
    assert "TST info:\nNot included." in text.stdout
