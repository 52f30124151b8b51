"""Level C through the real front: HAProxy terminating mutual TLS, real
handshakes from httpx, the application behind it on its Unix socket."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sceau.audit.actors import Actor
from sceau.client import SceauApiError, SceauClient, SceauTransportError
from sceau.clients.certificates import issue_pkcs12, revoke_client_certificate
from sceau.db import utcnow
from sceau.pki.access import fingerprint as access_fingerprint
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.tls.front import push_crl, write_crl
from tests.auth.conftest import with_level
from tests.conftest import Provisioned, provision
from tests.support.servers import MtlsFront, mtls_front

LOOKUP = "/api/v1/sceau/b2b/signatures/SIG-20260101-ABCDEF"
PASSPHRASE = "une phrase de passe assez longue"


@dataclass(frozen=True)
class Holder:
    """A level-C client and the PEM files of its certificate."""

    client: Provisioned
    cert: Path
    key: Path
    p12: Path
    der: bytes


def holder(runtime: Runtime, client: Provisioned, directory: Path) -> Holder:
    with runtime.db.transaction() as session:
        issued, bundle = issue_pkcs12(
            session,
            runtime.access_ca,
            client.client_id,
            PASSPHRASE,
            by=Actor.operator(),
        )
    key, certificate, _ = serialization.pkcs12.load_key_and_certificates(
        bundle, PASSPHRASE.encode()
    )
    assert key is not None and certificate is not None
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "cert.pem", directory / "key.pem", directory / "client.p12"
    paths[0].write_bytes(issued.pem)
    paths[1].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].write_bytes(bundle)
    return Holder(
        client, *paths, der=certificate.public_bytes(serialization.Encoding.DER)
    )


@pytest.fixture
def front(settings: Settings, runtime: Runtime) -> Iterator[MtlsFront]:
    # A short directory: a Unix socket's path is limited to 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="sceau-front-"))
    try:
        with mtls_front(settings, runtime, directory) as running:
            yield running
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def bank(runtime: Runtime, atlanta: Provisioned, tmp_path: Path) -> Holder:
    with_level(runtime, atlanta, "C", allowlist=["127.0.0.1/32", "::1"])
    return holder(runtime, atlanta, tmp_path / "bank")


def tls_client(front: MtlsFront, cert: tuple[Path, Path] | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(front.files.access_ca))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return httpx.Client(base_url=front.url, verify=context)


def test_level_c_client_signs_through_the_front(
    front: MtlsFront, bank: Holder, pdf: bytes
) -> None:
    with SceauClient(
        front.url,
        bank.client.api_key,
        cert=(bank.p12, PASSPHRASE),
        verify=front.files.access_ca,
    ) as sceau:
        signed = sceau.sign_system(
            code_09=bank.client.code_09,
            nom_signataire=bank.client.label,
            motif="Relevé certifié",
            pdf=pdf,
        )
        record = sceau.get_signature(signed.ref_signature)

    assert signed.pdf_signe.startswith(b"%PDF")
    assert record["ref_signature"] == signed.ref_signature


def test_connection_without_certificate_is_refused_in_the_handshake(
    front: MtlsFront, bank: Holder
) -> None:
    with tls_client(front, None) as client, pytest.raises(httpx.TransportError) as err:
        client.get(LOOKUP, headers=bank.client.headers)

    assert "CERTIFICATE_REQUIRED" in str(err.value).upper().replace(" ", "_")


def test_certificate_of_another_ca_is_refused_in_the_handshake(
    front: MtlsFront, bank: Holder, tmp_path: Path
) -> None:
    cert, key = foreign_certificate(tmp_path)

    with tls_client(front, (cert, key)) as client, pytest.raises(httpx.TransportError):
        client.get(LOOKUP, headers=bank.client.headers)


def test_client_library_reports_a_refused_handshake(
    front: MtlsFront, bank: Holder, tmp_path: Path
) -> None:
    cert, key = foreign_certificate(tmp_path)
    sceau = SceauClient(
        front.url,
        bank.client.api_key,
        cert=(cert, key),
        verify=front.files.access_ca,
        retries=0,
    )

    with sceau, pytest.raises(SceauTransportError):
        sceau.get_signature("SIG-20260101-ABCDEF")


def test_revoked_certificate_is_refused_at_once_then_in_the_handshake(
    runtime: Runtime, front: MtlsFront, bank: Holder
) -> None:
    with runtime.db.transaction() as session:
        revoke_client_certificate(session, fingerprint(bank.der), by=Actor.operator())

    # The application refuses it on the very next request...
    with tls_client(front, (bank.cert, bank.key)) as client:
        refused = client.get(LOOKUP, headers=bank.client.headers)
    # ...and once the front has the new CRL, so does the handshake.
    pushed = push_crl(front.files, write_crl(runtime, front.files))
    with (
        tls_client(front, (bank.cert, bank.key)) as client,
        pytest.raises(httpx.TransportError) as err,
    ):
        client.get(LOOKUP, headers=bank.client.headers)

    assert refused.status_code == 403
    assert refused.json()["erreur"]["code"] == "certificat_client_revoque"
    assert pushed
    assert "REVOKED" in str(err.value).upper()


def test_certificate_of_one_client_with_the_key_of_another_is_refused(
    runtime: Runtime, front: MtlsFront, bank: Holder
) -> None:
    other = provision(
        runtime, name="Trésor", label="Trésor – système", body="TRESORSYS"
    )
    with_level(runtime, other, "C", allowlist=["127.0.0.1"])

    with tls_client(front, (bank.cert, bank.key)) as client:
        response = client.get(LOOKUP, headers=other.headers)

    assert response.status_code == 403
    assert response.json()["erreur"]["code"] == "certificat_autre_client"


def test_address_outside_the_allowlist_is_refused_before_the_key(
    runtime: Runtime, front: MtlsFront, bank: Holder
) -> None:
    with_level(runtime, bank.client, "C", allowlist=["10.0.0.0/8", "2001:db8::/32"])

    with tls_client(front, (bank.cert, bank.key)) as client:
        with_key = client.get(LOOKUP, headers=bank.client.headers)
        wrong_key = client.get(
            LOOKUP, headers={"X-Identity-API-Key": "psk_000000000000_nope"}
        )

    assert with_key.status_code == 403
    assert with_key.json()["erreur"]["code"] == "adresse_non_autorisee"
    # The key is never looked at: a wrong one gets the same answer.
    assert wrong_key.json()["erreur"]["code"] == "adresse_non_autorisee"


def test_forged_front_headers_sent_straight_to_the_application_are_ignored(
    front: MtlsFront, bank: Holder
) -> None:
    forged = {
        "X-Pixel-Front-Peer": "127.0.0.1",
        "X-Pixel-Front-Verify": "SUCCESS",
        "X-Pixel-Front-Cert": base64.b64encode(bank.der).decode(),
    }

    response = httpx.get(
        front.direct_url + LOOKUP, headers={**bank.client.headers, **forged}
    )

    assert response.status_code == 403
    assert response.json()["erreur"]["code"] == "certificat_client_requis"


def test_headers_a_client_sends_through_the_front_are_replaced(
    runtime: Runtime, front: MtlsFront, bank: Holder
) -> None:
    """A client claiming an allowed address through the front gets nowhere:
    the front overwrites the header with the address it saw."""
    with_level(runtime, bank.client, "C", allowlist=["192.0.2.7"])

    with tls_client(front, (bank.cert, bank.key)) as client:
        response = client.get(
            LOOKUP,
            headers={**bank.client.headers, "X-Pixel-Front-Peer": "192.0.2.7"},
        )

    assert response.json()["erreur"]["code"] == "adresse_non_autorisee"


def test_level_b_signature_is_checked_through_the_front(
    runtime: Runtime, front: MtlsFront, bank: Holder
) -> None:
    """HMAC is optional at level C, and checked when sent: the host and path
    the application sees are those the client signed."""
    from tests.auth.conftest import new_hmac_secret

    secret = new_hmac_secret(runtime, bank.client)
    with SceauClient(
        front.url,
        bank.client.api_key,
        hmac_secret=secret,
        cert=(bank.cert, bank.key),
        verify=front.files.access_ca,
    ) as sceau:
        with pytest.raises(SceauApiError) as err:
            sceau.get_signature("SIG-20260101-ABCDEF")
        sceau.hmac_secret = secret + "x"
        with pytest.raises(SceauApiError) as bad:
            sceau.get_signature("SIG-20260101-ABCDEF")

    assert err.value.code == "signature_inconnue"
    assert bad.value.code == "signature_hmac_invalide"


def test_access_crl_lists_the_revoked_certificate(
    runtime: Runtime, front: MtlsFront, bank: Holder, tmp_path: Path
) -> None:
    with runtime.db.transaction() as session:
        revoked = revoke_client_certificate(
            session, fingerprint(bank.der), by=Actor.operator()
        )
    crl = tmp_path / "access.crl"
    crl.write_bytes(httpx.get(front.direct_url + "/pki/access.crl").content)

    text = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(crl), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert "Pixel Sceau Access CA" in text
    assert revoked.serial_hex.upper() in text.replace(":", "").upper()


def fingerprint(der: bytes) -> str:
    return access_fingerprint(x509.load_der_x509_certificate(der))


def foreign_certificate(directory: Path) -> tuple[Path, Path]:
    """A client certificate from a CA that is not ours."""
    now = utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Autre AC")])
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intrus")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "foreign.pem", directory / "foreign.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_local_process_on_the_unix_socket_without_the_token_is_not_the_front(
    front: MtlsFront, bank: Holder
) -> None:
    """Reaching the application's socket is not enough: the front's headers
    count only with the front's token."""
    forged = {
        "X-Pixel-Front-Peer": "127.0.0.1",
        "X-Pixel-Front-Verify": "SUCCESS",
        "X-Pixel-Front-Cert": base64.b64encode(bank.der).decode(),
        "X-Pixel-Front-Token": "pas-le-bon",
    }
    transport = httpx.HTTPTransport(uds=str(front.files.app_socket))

    with httpx.Client(transport=transport, base_url="http://front") as local:
        response = local.get(LOOKUP, headers={**bank.client.headers, **forged})

    assert response.status_code == 403
    assert response.json()["erreur"]["code"] == "certificat_client_requis"


def test_front_token_file_is_private(front: MtlsFront) -> None:
    assert front.files.token.stat().st_mode & 0o077 == 0
    assert front.files.config.stat().st_mode & 0o077 == 0
    assert front.files.token.read_text() in front.files.config.read_text()
