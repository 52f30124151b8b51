"""Reading back the RFC 3161 token that fixes the audit trail's head in time:
is it over that hash, and does its signature hold?"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

_DIGESTS: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


class TokenInvalid(Exception):
    """The token is not over the hash it is said to be, or its signature
    does not hold; the message says which, in English (for the CLI)."""


@dataclass(frozen=True)
class CheckedToken:
    gen_time: datetime
    signer: x509.Certificate

    @property
    def signer_name(self) -> str:
        return self.signer.subject.rfc4514_string()


def check_token(token: bytes, digest: bytes) -> CheckedToken:
    """The token's time and signer, once its imprint is ``digest`` (SHA-256)
    and its signer's signature over it holds."""
    try:
        signed = cms.ContentInfo.load(token)["content"]
        content = signed["encap_content_info"]["content"]
        info = tsp.TSTInfo.load(content.contents)
        imprint = info["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
        signer_info = signed["signer_infos"][0]
        gen_time = info["gen_time"].native
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise TokenInvalid(f"the token cannot be read: {exc}") from exc
    if algorithm != "sha256" or hashed != digest:
        raise TokenInvalid("the token is over another hash")
    certificate = _signer_certificate(signed, signer_info)
    _check_signature(signer_info, content.contents, certificate)
    return CheckedToken(gen_time=gen_time, signer=certificate)


def _signer_certificate(
    signed: cms.SignedData, signer_info: cms.SignerInfo
) -> x509.Certificate:
    sid = signer_info["sid"]
    for choice in signed["certificates"] or []:
        candidate = choice.chosen
        if not isinstance(candidate, cms.Certificate):
            continue
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                candidate.issuer == wanted["issuer"]
                and candidate.serial_number == wanted["serial_number"].native
            ):
                return x509.load_der_x509_certificate(candidate.dump())
        elif candidate.key_identifier == sid.chosen.native:
            return x509.load_der_x509_certificate(candidate.dump())
    raise TokenInvalid("the token does not carry its signer's certificate")


def _check_signature(
    signer_info: cms.SignerInfo, content: bytes, certificate: x509.Certificate
) -> None:
    algorithm = signer_info["digest_algorithm"]["algorithm"].native
    if algorithm not in _DIGESTS:
        raise TokenInvalid(f"the token is signed with {algorithm}")
    attributes = signer_info["signed_attrs"]
    declared = next(
        (
            a["values"][0].native
            for a in attributes
            if a["type"].native == "message_digest"
        ),
        None,
    )
    if declared != hashlib.new(algorithm, content).digest():
        raise TokenInvalid("the token's content does not match its signed digest")
    # The signature is over the attributes as a SET OF, not as the [0]
    # IMPLICIT field they are stored in.
    signed_bytes = b"\x31" + attributes.dump()[1:]
    signature = signer_info["signature"].native
    key = certificate.public_key()
    digest = _DIGESTS[algorithm]
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_bytes, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_bytes, ec.ECDSA(digest))
        else:
            raise TokenInvalid("the token's signer has a key of an unknown kind")
    except InvalidSignature as exc:
        raise TokenInvalid("the token's signature does not hold") from exc
