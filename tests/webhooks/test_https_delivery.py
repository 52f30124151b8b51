"""An HTTPS receiver reached at the checked address: the request goes to the
pinned IP, with the URL's name in the TLS handshake (SNI) and in Host, and the
receiver's certificate is checked for that name."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sceau.db import utcnow
from sceau.webhooks.transport import WebhookSender

NAME = "hooks.atlanta.example"


def certificate_for(name: str, directory: Path) -> tuple[Path, Path, Path]:
    """A CA of the test's own, and a server certificate it issues for ``name``."""
    now = utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Receveur AC")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class TlsReceiver:
    def __init__(self, cert: Path, key: Path) -> None:
        self.hosts: list[str] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hosts.append(self.headers["Host"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))

        def remember(sock: ssl.SSLSocket, name: str | None, _: object) -> None:
            receiver.server_names.append(name)

        context.sni_callback = remember  # type: ignore[assignment]
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[TlsReceiver, Path]]:
    ca, cert, key = certificate_for(NAME, tmp_path)
    receiver = TlsReceiver(cert, key)
    yield receiver, ca
    receiver.close()


def sender(ca: Path) -> WebhookSender:
    # The name resolves (here, by the injected resolver) to loopback, which
    # the development setting admits: the sender connects to that address.
    return WebhookSender(
        timeout_seconds=5,
        allow_http_loopback=True,
        resolver=lambda host, port: ["127.0.0.1"] if host == NAME else [],
        verify=ssl.create_default_context(cafile=str(ca)),
    )


def test_https_delivery_goes_to_the_checked_address_under_the_urls_name(
    tls_receiver: tuple[TlsReceiver, Path],
) -> None:
    receiver, ca = tls_receiver

    result = sender(ca).send(
        f"https://{NAME}:{receiver.port}/rappel", b"{}", {"webhook-id": "msg_1"}
    )

    assert result.ok, result.error
    assert receiver.server_names == [NAME]
    assert receiver.hosts == [f"{NAME}:{receiver.port}"]


def test_https_receiver_with_a_certificate_for_another_name_is_refused(
    tmp_path: Path,
) -> None:
    ca, cert, key = certificate_for("autre.example", tmp_path)
    receiver = TlsReceiver(cert, key)
    try:
        result = sender(ca).send(
            f"https://{NAME}:{receiver.port}/rappel", b"{}", {"webhook-id": "msg_2"}
        )
    finally:
        receiver.close()

    assert not result.ok
    assert receiver.hosts == []
    assert result.error is not None
