"""Signed documents for verification tests: through the API, as a client
would get them, or with pyHanko directly for what the service refuses to make
(a revoked, expired or foreign certificate)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from sceau.db import utcnow
from sceau.identities.models import Identity
from sceau.pki.models import IssuedCertificate
from sceau.runtime import Runtime
from sceau.signing.engine import Level, SigningKey
from tests.conftest import Provisioned, sign_body
from tests.support.pdfs import one_page_pdf

SIGN_URL = "/api/v1/sceau/b2b/signer"
VERIFY_URL = "/api/v1/sceau/verifier"
MOTIF = "Attestation de garantie n° 2026-04231"


@dataclass(frozen=True)
class Signed:
    pdf: bytes
    ref: str
    ref_horodatage: str


def sign_through_api(
    api: TestClient, identity: Provisioned, level: str, pdf: bytes | None = None
) -> Signed:
    response = api.post(
        SIGN_URL,
        headers=identity.headers,
        json=sign_body(identity, pdf or one_page_pdf(), motif=MOTIF, niveau=level),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Signed(
        base64.b64decode(body["pdf_signe_b64"]),
        body["ref_signature"],
        body["ref_horodatage"],
    )


def verify(api: TestClient, pdf: bytes) -> Any:
    response = api.post(VERIFY_URL, files={"fichier": ("acte.pdf", pdf)})
    assert response.status_code == 200, response.text
    return response.json()


def sign_directly(
    runtime: Runtime,
    key: SigningKey,
    *,
    level: Level = "B-T",
    field_name: str = "Signature1",
    signer_name: str = "Signataire",
) -> bytes:
    return runtime.engine.sign(
        one_page_pdf(),
        key=key,
        reason=MOTIF,
        signer_name=signer_name,
        level=level,
        field_name=field_name,
        trust=runtime.trust() if level in ("B-LT", "B-LTA") else None,
    ).pdf


def revoke_identity(runtime: Runtime, code_09: str, *, ago: timedelta) -> None:
    """What an operator's revocation records: the identity and its certificate,
    which the issuing CA's CRL then names."""
    with runtime.db.transaction() as session:
        identity = session.get(Identity, code_09)
        assert identity is not None
        certificate = x509.load_der_x509_certificate(identity.certificate_der)
        issued = session.get(IssuedCertificate, format(certificate.serial_number, "x"))
        assert issued is not None
        identity.revoked_at = issued.revoked_at = utcnow() - ago


def identity_key(runtime: Runtime, code_09: str) -> SigningKey:
    with runtime.db.sessions() as session:
        identity = session.get(Identity, code_09)
        assert identity is not None
        session.expunge(identity)
    return runtime.signing_key(identity)


def expired_key(runtime: Runtime) -> SigningKey:
    """A certificate from our issuing CA that expired a minute ago."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = utcnow()
    pki = runtime.pki
    certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "Identité périmée"),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, "09S-PERIME-X"),
                ]
            )
        )
        .issuer_name(pki.issuing_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=2))
        .not_valid_after(now - timedelta(minutes=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                pki.issuing_cert.public_key()  # type: ignore[arg-type]
            ),
            False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(pki.urls.issuing_crl)],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            False,
        )
        .sign(pki.issuing_key, hashes.SHA256())
    )
    return SigningKey.of(certificate, key, [pki.issuing_cert, pki.root_cert])


def foreign_key() -> SigningKey:
    """Another service's throwaway self-signed certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Autre Service")])
    now = utcnow()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            True,
        )
        .sign(key, hashes.SHA256())
    )
    return SigningKey.of(certificate, key, [])


@pytest.fixture
def signed_b_lt(api: TestClient, atlanta: Provisioned) -> Signed:
    return sign_through_api(api, atlanta, "B-LT")
