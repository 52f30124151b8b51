"""Standard Webhooks signatures, and endpoint secrets sealed at rest.

A delivery carries ``webhook-id`` (the event id, the same on every retry),
``webhook-timestamp`` (the attempt's Unix time) and ``webhook-signature``:
``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, one per live secret,
separated by spaces, so that a receiver still holding the previous secret
during a rotation keeps verifying.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sceau.errors import ConfigurationError

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32
_NONCE_BYTES = 12
_SEAL_VERSION = b"\x01"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(
    secrets: list[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(secret, msg_id, timestamp, body) for secret in secrets
        ),
    }


class SecretBox:
    """Seals endpoint secrets under a key derived from the master key.

    The key is derived apart from the one sealing private keys, and each
    blob is bound to its endpoint, so a blob copied to another row does not
    open.
    """

    def __init__(self, master_key: bytes) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"pixel-sceau webhook secrets v1",
        ).derive(master_key)
        self._aead = AESGCM(derived)

    def seal(self, secret: str, endpoint_id: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), endpoint_id.encode())
        return _SEAL_VERSION + nonce + sealed

    def open(self, blob: bytes, endpoint_id: str) -> str:
        if not blob.startswith(_SEAL_VERSION):
            raise ConfigurationError(f"webhook secret of {endpoint_id}: unknown format")
        nonce = blob[1 : 1 + _NONCE_BYTES]
        try:
            plain = self._aead.decrypt(
                nonce, blob[1 + _NONCE_BYTES :], endpoint_id.encode()
            )
        except InvalidTag as exc:
            raise ConfigurationError(
                f"the webhook secret of {endpoint_id} does not open with this "
                "master key"
            ) from exc
        return plain.decode()
