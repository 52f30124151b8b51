"""Signing with keys in a real SoftHSM2 token, through the same API path as
file keys: the PDFs pass ``pdfsig``, the timestamps ``openssl ts -verify``,
the keys never leave the token, and the pool does not log in per signature."""

from __future__ import annotations

import base64
import hashlib
from io import BytesIO
from pathlib import Path

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from pkcs11 import Attribute, ObjectClass
from pyhanko.pdf_utils.reader import PdfFileReader

from sceau.app import create_app
from sceau.hsm.pool import PooledSession
from sceau.identities.models import Identity
from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.conftest import provision, sign_body
from tests.hsm.conftest import TOKEN_LABEL, SoftHsm
from tests.support.pdfs import one_page_pdf
from tests.support.validators import nss_db, openssl, openssl_ts_verify, pdfsig

SIGN = "/api/v1/sceau/b2b/signer"
ALGORITHMS = ("rsa3072", "ecdsa-p256")


def _pdf_of(response_json: dict[str, object]) -> bytes:
    return base64.b64decode(str(response_json["pdf_signe_b64"]))


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _root_pem(runtime: Runtime) -> bytes:
    return runtime.pki.root_cert.public_bytes(serialization.Encoding.PEM)


def _issuing_pem(runtime: Runtime) -> bytes:
    return runtime.pki.issuing_cert.public_bytes(serialization.Encoding.PEM)


def _token_attributes(runtime: Runtime, label: str) -> dict[str, bool]:
    """The private key's attributes, as python-pkcs11 reads them."""
    assert runtime.token is not None

    def read(pooled: PooledSession) -> dict[str, bool]:
        [key] = list(
            pooled.session.get_objects(
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}
            )
        )
        return {
            name: bool(key[attribute])
            for name, attribute in (
                ("sensitive", Attribute.SENSITIVE),
                ("extractable", Attribute.EXTRACTABLE),
                ("always_sensitive", Attribute.ALWAYS_SENSITIVE),
                ("never_extractable", Attribute.NEVER_EXTRACTABLE),
                ("local", Attribute.LOCAL),
            )
        }

    return runtime.token.pool.run(read, what="test")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sign_with_token_key_passes_pdfsig(
    hsm_api: TestClient, hsm_runtime: Runtime, tmp_path: Path, algorithm: str
) -> None:
    client = provision(hsm_runtime, algorithm=algorithm)

    # The default level, B-LT, also embeds CRLs the token's issuing CA signed.
    response = hsm_api.post(
        SIGN, headers=client.headers, json=sign_body(client, one_page_pdf())
    )

    assert response.status_code == 200, response.text
    path = _write(tmp_path, "signe.pdf", _pdf_of(response.json()))
    output = pdfsig(path, nss_db(tmp_path, _root_pem(hsm_runtime)))
    assert "Signature is Valid." in output
    assert "Certificate is Trusted." in output


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_identity_key_is_made_in_the_token_and_cannot_leave_it(
    hsm_runtime: Runtime, algorithm: str
) -> None:
    client = provision(hsm_runtime, algorithm=algorithm)

    with hsm_runtime.db.sessions() as session:
        identity = session.get(Identity, client.code_09)
        assert identity is not None
        assert identity.sealed_key is None
        assert identity.key_label == f"identity:{client.code_09}"
        label = identity.key_label

    assert _token_attributes(hsm_runtime, label) == {
        "sensitive": True,
        "extractable": False,
        "always_sensitive": True,
        "never_extractable": True,
        "local": True,
    }


def test_token_refuses_to_export_a_private_key(hsm_runtime: Runtime) -> None:
    client = provision(hsm_runtime)
    assert hsm_runtime.token is not None

    def export(pooled: PooledSession) -> bytes:
        key = pooled.session.get_key(
            object_class=ObjectClass.PRIVATE_KEY, label=f"identity:{client.code_09}"
        )
        return bytes(key[Attribute.PRIVATE_EXPONENT])

    with pytest.raises(pkcs11.AttributeSensitive):
        hsm_runtime.token.pool.run(export, what="test")


def test_pki_keys_are_in_the_token_and_only_labels_in_the_data_dir(
    hsm_runtime: Runtime,
) -> None:
    pki_dir = hsm_runtime.settings.pki_dir

    assert sorted(path.name for path in pki_dir.rglob("*.key.*")) == [
        "access-ca.key.pkcs11",
        "issuing.key.pkcs11",
        "root.key.pkcs11",
        "tsa.key.pkcs11",
    ]
    assert hsm_runtime.pki.keys_in_token
    for label in ("pki:root", "pki:issuing", "pki:tsa", "pki:access"):
        attributes = _token_attributes(hsm_runtime, label)
        assert attributes["sensitive"] and not attributes["extractable"]


def test_certificates_issued_by_the_token_ca_verify_with_openssl(
    hsm_runtime: Runtime, tmp_path: Path
) -> None:
    client = provision(hsm_runtime, algorithm="ecdsa-p256")
    with hsm_runtime.db.sessions() as session:
        identity = session.get(Identity, client.code_09)
        assert identity is not None
        certificate = x509.load_der_x509_certificate(identity.certificate_der)

    result = openssl(
        "verify",
        "-CAfile",
        _write(tmp_path, "root.pem", _root_pem(hsm_runtime)),
        "-untrusted",
        _write(tmp_path, "issuing.pem", _issuing_pem(hsm_runtime)),
        _write(
            tmp_path,
            "identity.pem",
            certificate.public_bytes(serialization.Encoding.PEM),
        ),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert ": OK" in result.stdout


def test_signatures_reuse_the_pool_login(
    hsm_api: TestClient, hsm_runtime: Runtime
) -> None:
    client = provision(hsm_runtime)
    assert hsm_runtime.token is not None
    pool = hsm_runtime.token.pool
    logins = pool.logins

    for number in range(6):
        response = hsm_api.post(
            SIGN,
            headers=client.headers,
            json=sign_body(
                client, one_page_pdf(), niveau="B-T", motif=f"Acte {number}"
            ),
        )
        assert response.status_code == 200, response.text

    # Provisioning (a key made, a certificate signed) logged in once; no
    # signature logs in again.
    assert logins == 1
    assert pool.logins == logins


def test_timestamps_signed_in_the_token_pass_openssl_ts_verify(
    hsm_api: TestClient, hsm_runtime: Runtime, tmp_path: Path
) -> None:
    data = _write(tmp_path, "acte.txt", b"Attestation de garantie")
    query = tmp_path / "requete.tsq"
    made = openssl("ts", "-query", "-data", data, "-sha256", "-cert", "-out", query)
    assert made.returncode == 0, made.stderr

    response = hsm_api.post(
        "/tsa",
        content=query.read_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
    )

    assert response.status_code == 200
    result = openssl_ts_verify(
        _write(tmp_path, "reponse.tsr", response.content),
        ca_file=_write(tmp_path, "root.pem", _root_pem(hsm_runtime)),
        untrusted=_write(tmp_path, "issuing.pem", _issuing_pem(hsm_runtime)),
        data=data,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification: OK" in result.stdout


def test_signature_timestamp_of_a_b_t_pdf_passes_openssl_ts_verify(
    hsm_api: TestClient, hsm_runtime: Runtime, tmp_path: Path
) -> None:
    client = provision(hsm_runtime, algorithm="ecdsa-p256")

    response = hsm_api.post(
        SIGN,
        headers=client.headers,
        json=sign_body(client, one_page_pdf(), niveau="B-T"),
    )

    assert response.status_code == 200, response.text
    [signature] = PdfFileReader(BytesIO(_pdf_of(response.json()))).embedded_signatures
    signer_info = signature.signer_info
    [token] = [
        attribute["values"][0]
        for attribute in signer_info["unsigned_attrs"]
        if attribute["type"].native == "signature_time_stamp_token"
    ]
    result = openssl_ts_verify(
        _write(tmp_path, "jeton.tst", token.dump()),
        ca_file=_write(tmp_path, "root.pem", _root_pem(hsm_runtime)),
        untrusted=_write(tmp_path, "issuing.pem", _issuing_pem(hsm_runtime)),
        digest_hex=hashlib.sha256(signer_info["signature"].native).hexdigest(),
        token_in=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification: OK" in result.stdout


def test_health_check_proves_the_token_keys(hsm_api: TestClient) -> None:
    response = hsm_api.get("/healthz")

    assert response.status_code == 200, response.text
    assert response.json()["cles"] == "ok"


def test_file_pki_with_key_store_pkcs11_puts_new_identity_keys_in_the_token(
    data_dir: Path, softhsm: SoftHsm, pin_file: Path, tmp_path: Path
) -> None:
    # A service that ran on files switches to the token: its sealed CA keys
    # stay as they are, and the next identity's key is made in the token.
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'sceau.db'}",
        log_format="text",
        key_store="pkcs11",
        pkcs11_module=softhsm.module,
        pkcs11_token=TOKEN_LABEL,
        pkcs11_pin_file=pin_file,
    )
    runtime = Runtime(settings)
    try:
        runtime.prepare()
        assert not runtime.pki.keys_in_token
        client = provision(runtime)
        with runtime.db.sessions() as session:
            identity = session.get(Identity, client.code_09)
            assert identity is not None and identity.sealed_key is None
        with TestClient(create_app(settings, runtime)) as api:
            response = api.post(
                SIGN, headers=client.headers, json=sign_body(client, one_page_pdf())
            )
        assert response.status_code == 200, response.text
        path = _write(tmp_path, "signe.pdf", _pdf_of(response.json()))
        output = pdfsig(path, nss_db(tmp_path, _root_pem(runtime)))
        assert "Signature is Valid." in output
        assert "Certificate is Trusted." in output
    finally:
        runtime.close()
