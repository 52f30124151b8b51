"""Private keys at rest: sealed with AES-256-GCM under a key derived from the
master key, each bound to what it is for (the associated data), so a sealed key
copied to another slot does not open there."""

from __future__ import annotations

import os
from typing import Literal, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sceau.errors import ConfigurationError

SEAL_VERSION = b"SK1"
NONCE_BYTES = 12

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
KeyAlgorithm = Literal["rsa3072", "ecdsa-p256"]
KEY_ALGORITHMS: tuple[KeyAlgorithm, ...] = ("rsa3072", "ecdsa-p256")


@runtime_checkable
class ExternalKey(Protocol):
    """A private key that never enters the process (one in a PKCS#11 token):
    it signs on request, PKCS#1 v1.5 for RSA and DER-encoded ECDSA for EC,
    like ``cryptography``'s keys."""

    def public_key(self) -> PublicKey: ...

    def sign_data(self, data: bytes, algorithm: hashes.HashAlgorithm) -> bytes: ...


# Whatever can sign for the service: a key held in memory, or one in a token.
SignatureKey = PrivateKey | ExternalKey


class KeySealer:
    def __init__(self, master_key: bytes) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"pixel-sceau key sealing v1",
        ).derive(master_key)
        self._aead = AESGCM(derived)

    def seal(self, key: PrivateKey, purpose: str) -> bytes:
        plaintext = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return self.seal_bytes(plaintext, purpose)

    def unseal(self, blob: bytes, purpose: str) -> PrivateKey:
        plaintext = self.unseal_bytes(blob, purpose)
        key = serialization.load_der_private_key(plaintext, password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigurationError(f"sealed key for {purpose} is not RSA or EC")
        return key

    def seal_bytes(self, plaintext: bytes, purpose: str) -> bytes:
        """Any secret the service must read back (HMAC secrets, for example)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, purpose.encode())
        return SEAL_VERSION + nonce + sealed

    def unseal_bytes(self, blob: bytes, purpose: str) -> bytes:
        if not blob.startswith(SEAL_VERSION):
            raise ConfigurationError(f"sealed key for {purpose} has an unknown format")
        nonce = blob[len(SEAL_VERSION) : len(SEAL_VERSION) + NONCE_BYTES]
        sealed = blob[len(SEAL_VERSION) + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, purpose.encode())
        except InvalidTag as exc:
            raise ConfigurationError(
                f"the sealed key for {purpose} does not open with this master key "
                "(SCEAU_MASTER_KEY differs from the one it was sealed with)"
            ) from exc


def generate_key(algorithm: KeyAlgorithm) -> PrivateKey:
    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)
