"""The service's PKI as a relying party and an operator see it: what ``/pki/…``
publishes, what the certificates point to, and how the keys rest on disk."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from fastapi.testclient import TestClient
from pydantic import SecretStr

from sceau.errors import ConfigurationError
from sceau.identities.models import Identity
from sceau.pki.keystore import KeySealer
from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.conftest import Provisioned
from tests.support.validators import openssl


def _root(api: TestClient) -> x509.Certificate:
    return x509.load_pem_x509_certificate(api.get("/pki/root.crt").content)


def _issuing(api: TestClient) -> x509.Certificate:
    return x509.load_der_x509_certificate(api.get("/pki/issuing.crt").content)


def _common_name(name: x509.Name) -> str:
    return str(name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _pem_file(path: Path, *certificates: x509.Certificate) -> Path:
    path.write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
    )
    return path


def test_get_root_certificate_returns_self_signed_pem_ca(
    api: TestClient, tmp_path: Path
) -> None:
    response = api.get("/pki/root.crt")

    assert response.status_code == 200
    assert response.content.startswith(b"-----BEGIN CERTIFICATE-----")
    root = x509.load_pem_x509_certificate(response.content)
    assert _common_name(root.subject) == "Pixel Sceau Root CA"
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    path = tmp_path / "root.pem"
    path.write_bytes(response.content)
    verified = openssl("verify", "-CAfile", path, path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{path}: OK" in verified.stdout


@pytest.mark.parametrize("which", ["root", "issuing"])
def test_get_crl_returns_der_signed_by_its_ca_valid_for_days(
    api: TestClient, tmp_path: Path, which: str
) -> None:
    root, issuing = _root(api), _issuing(api)
    signer = root if which == "root" else issuing

    response = api.get(f"/pki/{which}.crl")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.issuer == signer.subject
    assert crl.is_signature_valid(signer.public_key())  # type: ignore[arg-type]
    assert crl.next_update_utc is not None
    assert crl.next_update_utc > datetime.now(UTC)
    assert crl.last_update_utc <= datetime.now(UTC)
    # The same verdict from OpenSSL, given the CA certificates as published.
    crl_path = tmp_path / f"{which}.crl"
    crl_path.write_bytes(response.content)
    cas = _pem_file(tmp_path / "ca.pem", root, issuing)
    checked = openssl("crl", "-inform", "DER", "-in", crl_path, "-CAfile", cas)
    assert checked.returncode == 0, checked.stderr
    assert "verify OK" in checked.stderr


def test_issued_certificates_point_to_crls_and_issuers_under_pki(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    with runtime.db.sessions() as session:
        identity = session.get(Identity, atlanta.code_09)
        assert identity is not None
        identity_cert = x509.load_der_x509_certificate(identity.certificate_der)
    base = runtime.settings.public_base_url
    expected = {
        "issuing CA": (_issuing(api), "root"),
        "TSA": (runtime.pki.tsa_cert, "issuing"),
        "identity": (identity_cert, "issuing"),
    }

    for what, (certificate, issuer) in expected.items():
        points = certificate.extensions.get_extension_for_class(
            x509.CRLDistributionPoints
        ).value
        crl_urls = [n.value for p in points for n in p.full_name or []]
        access = certificate.extensions.get_extension_for_class(
            x509.AuthorityInformationAccess
        ).value
        issuer_urls = [
            d.access_location.value
            for d in access
            if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        ]
        assert crl_urls == [f"{base}/pki/{issuer}.crl"], what
        assert issuer_urls == [f"{base}/pki/{issuer}.crt"], what
        # What a relying party fetching those URLs gets.
        crl = x509.load_der_x509_crl(api.get(urlsplit(crl_urls[0]).path).content)
        assert crl.issuer == certificate.issuer, what


def test_key_files_are_owner_only_and_sealed(pki_template: Path) -> None:
    """Checked in the data directory the service created (the session's)."""
    sealed = sorted((pki_template / "pki").glob("*.key.sealed"))
    assert [p.name for p in sealed] == [
        "issuing.key.sealed",
        "root.key.sealed",
        "tsa.key.sealed",
    ]
    sealer = KeySealer(Settings(data_dir=pki_template).load_master_key())
    clear_keys = [
        sealer.unseal(
            path.read_bytes(), f"pki:{path.name.split('.')[0]}"
        ).private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        for path in sealed
    ]

    for path in [*sealed, pki_template / "master.key"]:
        assert path.stat().st_mode & 0o777 == 0o600, path.name
        data = path.read_bytes()
        assert b"PRIVATE KEY" not in data, path.name
        assert not any(clear in data for clear in clear_keys), path.name
        with pytest.raises(ValueError):
            serialization.load_der_private_key(data, password=None)
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(data, password=None)


def test_runtime_with_other_master_key_fails_naming_the_variable(
    settings: Settings,
) -> None:
    other = base64.b64encode(os.urandom(32)).decode()
    runtime = Runtime(settings.model_copy(update={"master_key": SecretStr(other)}))

    try:
        with pytest.raises(ConfigurationError, match="SCEAU_MASTER_KEY"):
            runtime.prepare()
    finally:
        runtime.close()
