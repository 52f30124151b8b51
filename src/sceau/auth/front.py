"""Who is really on the other end: the peer address and the verified client
certificate, as the TLS front reports them.

No Python ASGI server hands the verified client certificate to the
application, so mutual TLS ends in the front (HAProxy, ``verify required``,
which refuses a bad certificate in the handshake itself) and the front
forwards what it verified in the headers below. Those headers
are believed only when the application was started behind the front
(``SCEAU_FRONT_SOCKET``), the request arrived over a Unix socket, and it
carries the front's token (a secret in the front's private directory); from
anywhere else they are ignored, so a client sending them straight to the
application gains nothing.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from dataclasses import dataclass

from cryptography import x509
from starlette.types import Scope

from sceau.pki.access import fingerprint

logger = logging.getLogger(__name__)

PEER_HEADER = b"x-pixel-front-peer"
VERIFY_HEADER = b"x-pixel-front-verify"
CERT_HEADER = b"x-pixel-front-cert"
TOKEN_HEADER = b"x-pixel-front-token"
FRONT_HEADERS = (PEER_HEADER, VERIFY_HEADER, CERT_HEADER, TOKEN_HEADER)
MAX_CERT_HEADER = 16384


@dataclass(frozen=True)
class Peer:
    address: str | None
    # SHA-256 of the certificate the front verified, when there was one.
    certificate_fingerprint: str | None = None
    via_front: bool = False


def peer_of(scope: Scope, *, front_token: str | None) -> Peer:
    headers = dict(scope.get("headers", []))
    client = scope.get("client")

    # A Unix-socket connection has no peer address of its own: that is how the
    # front's connections are told from direct ones; the token, known to the
    # front and the application alone, tells the front from any other local
    # process on a Unix socket.
    sent_token = headers.get(TOKEN_HEADER, b"")
    from_front = (
        front_token is not None
        and client is None
        and hmac.compare_digest(sent_token, front_token.encode())
    )
    if not from_front:
        if any(name in headers for name in FRONT_HEADERS):
            logger.warning("auth.front_headers_ignored")
        return Peer(address=client[0] if client else None)

    address = headers.get(PEER_HEADER, b"").decode("latin-1").strip() or None
    verified = headers.get(VERIFY_HEADER, b"") == b"SUCCESS"
    encoded = headers.get(CERT_HEADER, b"")
    if not verified or not encoded or len(encoded) > MAX_CERT_HEADER:
        return Peer(address=address, via_front=True)
    try:
        certificate = x509.load_der_x509_certificate(
            base64.b64decode(encoded, validate=True)
        )
    except (ValueError, binascii.Error):
        logger.warning("auth.front_certificate_unreadable")
        return Peer(address=address, via_front=True)
    return Peer(
        address=address,
        certificate_fingerprint=fingerprint(certificate),
        via_front=True,
    )
