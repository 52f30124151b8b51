"""Signing with external TSAs (``SCEAU_TSA_URLS``) over real HTTP: a dead
authority is skipped, a live one — a second Pixel Sceau instance with its own
PKI, served by uvicorn — stamps the signature; with none alive nothing is signed
and nothing is stored."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import httpx
import pytest
import uvicorn
from asn1crypto import crl as asn1_crl
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import func, select

from sceau.anchoring.models import AnchorRecord
from sceau.app import create_app
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.models import SignatureRecord, SignedDocument
from tests.conftest import provision, sign_body
from tests.support.pdfs import one_page_pdf
from tests.support.validators import nss_db, pdfsig, pdfsig_signatures

SIGN_URL = "/api/v1/sceau/b2b/signer"


@dataclass(frozen=True)
class Authority:
    """What a relying party knows of a PKI: its root and its CRLs."""

    root_pem: bytes
    crls_der: list[bytes]

    def context(self) -> ValidationContext:
        root = asn1_x509.Certificate.load(pem.unarmor(self.root_pem)[2])
        return ValidationContext(
            trust_roots=[root],
            crls=[asn1_crl.CertificateList.load(der) for der in self.crls_der],
            allow_fetching=False,
            revocation_mode="hard-fail",
        )


@dataclass(frozen=True)
class ExternalTsa:
    url: str
    authority: Authority


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def _url(sock: socket.socket, path: str = "/tsa") -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}{path}"


@pytest.fixture(scope="module")
def external_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExternalTsa]:
    """A second instance — own data directory, own PKI — on a real port, whose
    certificates point at its own CRLs there."""
    sock = _listening_socket()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("autre-instance"),
        public_base_url=_url(sock, ""),
    )
    runtime = Runtime(settings)
    runtime.prepare()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, runtime), log_config=None, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, (
            "uvicorn did not start"
        )
        time.sleep(0.02)
    base = _url(sock, "")
    try:
        authority = Authority(
            root_pem=httpx.get(f"{base}/pki/root.crt").content,
            crls_der=[
                httpx.get(f"{base}/pki/{n}.crl").content for n in ("root", "issuing")
            ],
        )
        yield ExternalTsa(url=f"{base}/tsa", authority=authority)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        runtime.close()


@pytest.fixture
def refused_url() -> str:
    """Nothing listens there: the connection is refused at once."""
    with closing(_listening_socket()) as sock:
        url = _url(sock)
    return url


@pytest.fixture
def silent_url() -> Iterator[str]:
    """Accepts connections (the kernel's backlog) but never answers."""
    with closing(_listening_socket()) as sock:
        yield _url(sock)


@contextmanager
def _service(
    settings: Settings, tsa_urls: list[str], timeout: float = 2.0
) -> Iterator[tuple[Runtime, TestClient]]:
    """This instance, configured with external TSAs; the default timeout is
    one a loaded two-core machine meets, failures use a short one."""
    configured = settings.model_copy(
        update={"tsa_urls": tsa_urls, "tsa_timeout_seconds": timeout}
    )
    runtime = Runtime(configured)
    runtime.prepare()
    try:
        with TestClient(create_app(configured, runtime)) as client:
            yield runtime, client
    finally:
        runtime.close()


def _own_authority(client: TestClient) -> Authority:
    return Authority(
        root_pem=client.get("/pki/root.crt").content,
        crls_der=[client.get(f"/pki/{n}.crl").content for n in ("root", "issuing")],
    )


def _row_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.db.sessions() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            or 0
            for model in (SignatureRecord, SignedDocument, AnchorRecord)
        }


def test_sign_b_t_with_first_tsa_dead_is_stamped_by_next_tsa(
    settings: Settings, external_tsa: ExternalTsa, refused_url: str, tmp_path: Path
) -> None:
    with _service(settings, [refused_url, external_tsa.url]) as (runtime, client):
        identity = provision(runtime, algorithm="ecdsa-p256")
        response = client.post(
            SIGN_URL,
            headers=identity.headers,
            json=sign_body(identity, one_page_pdf(), niveau="B-T"),
        )
        own = _own_authority(client)

    assert response.status_code == 200, response.text
    signed = base64.b64decode(response.json()["pdf_signe_b64"])
    path = tmp_path / "signe.pdf"
    path.write_bytes(signed)
    assert own.root_pem != external_tsa.authority.root_pem

    nssdb = nss_db(tmp_path, own.root_pem, external_tsa.authority.root_pem)
    [block] = pdfsig_signatures(pdfsig(path, nssdb))
    assert block["Signature Validation"] == "Signature is Valid."
    assert block["Certificate Validation"] == "Certificate is Trusted."
    assert block["Signer Certificate Common Name"] == identity.label

    # The token chains to the other instance's root, and only to it: it came
    # from the external TSA, not from the embedded one.
    [signature] = PdfFileReader(BytesIO(signed)).embedded_regular_signatures
    status = validate_pdf_signature(
        signature,
        own.context(),
        ts_validation_context=external_tsa.authority.context(),
    )
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.valid and status.timestamp_validity.trusted


def test_sign_with_every_tsa_down_is_refused_and_stores_nothing(
    settings: Settings, refused_url: str, silent_url: str
) -> None:
    with _service(settings, [refused_url, silent_url], timeout=0.5) as (
        runtime,
        client,
    ):
        identity = provision(runtime, algorithm="ecdsa-p256")
        before = _row_counts(runtime)
        started = time.monotonic()
        response = client.post(
            SIGN_URL, headers=identity.headers, json=sign_body(identity, one_page_pdf())
        )
        elapsed = time.monotonic() - started
        after = _row_counts(runtime)

    assert response.status_code == 503, response.text
    error = response.json()["erreur"]
    assert error["code"] == "tsa_indisponible"
    assert "horodatage" in error["message"]
    assert "rien n'a été enregistré" in error["message"]
    assert before == after == {"signatures": 0, "signed_documents": 0, "anchors": 0}
    # Two attempts bounded by a 0.5 s timeout each, not the default 5 s.
    assert elapsed < 3


# The failure does not depend on the database: one run is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sign_b_lt_with_external_tsa_embeds_its_validation_data(
    settings: Settings, external_tsa: ExternalTsa, tmp_path: Path
) -> None:
    roots = tmp_path / "racines-tsa.pem"
    roots.write_bytes(external_tsa.authority.root_pem)
    trusting = settings.model_copy(update={"tsa_trust_roots": [roots]})
    with _service(trusting, [external_tsa.url]) as (runtime, client):
        identity = provision(runtime, algorithm="ecdsa-p256")
        response = client.post(
            SIGN_URL,
            headers=identity.headers,
            json=sign_body(identity, one_page_pdf(), niveau="B-LT"),
        )
        own = _own_authority(client)

    assert response.status_code == 200, response.text
    signed = base64.b64decode(response.json()["pdf_signe_b64"])
    path = tmp_path / "signe.pdf"
    path.write_bytes(signed)
    nssdb = nss_db(tmp_path, own.root_pem, external_tsa.authority.root_pem)
    [block] = pdfsig_signatures(pdfsig(path, nssdb))
    assert block["Signature Validation"] == "Signature is Valid."
    assert block["Certificate Validation"] == "Certificate is Trusted."
    assert "/DSS" in PdfFileReader(BytesIO(signed)).root


def test_sign_b_lt_with_untrusted_external_tsa_is_unavailable_not_blamed_on_pdf(
    settings: Settings, external_tsa: ExternalTsa
) -> None:
    with _service(settings, [external_tsa.url]) as (runtime, client):
        identity = provision(runtime)
        before = _row_counts(runtime)
        response = client.post(
            SIGN_URL,
            headers=identity.headers,
            json=sign_body(identity, one_page_pdf(), niveau="B-LT"),
        )
        after = _row_counts(runtime)

    assert response.status_code == 503
    assert response.json()["erreur"]["code"] == "validation_indisponible"
    assert after == before
