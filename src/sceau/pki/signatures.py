"""Signing with a key wherever it lives: in memory (``cryptography``) or in a
PKCS#11 token (an ``ExternalKey``).

``cryptography``'s certificate and CRL builders only sign with a key object of
their own. For a token key, the structure is built and signed with a
throwaway key of the same kind, which fixes every field but the signature;
the token then signs those to-be-signed bytes, and the certificate or CRL is
assembled again around its signature (with asn1crypto) and checked.
"""

from __future__ import annotations

from functools import lru_cache

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from sceau.pki.keystore import PrivateKey, PublicKey, SignatureKey

HashAlgorithm = hashes.SHA256 | hashes.SHA384 | hashes.SHA512


def sign(key: SignatureKey, data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    """PKCS#1 v1.5 for RSA, DER-encoded ECDSA for EC."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), algorithm)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(algorithm))
    return key.sign_data(data, algorithm)


def verify(
    public_key: PublicKey,
    signature: bytes,
    data: bytes,
    algorithm: hashes.HashAlgorithm,
) -> None:
    """Raises ``cryptography.exceptions.InvalidSignature`` on a mismatch."""
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
    else:
        public_key.verify(signature, data, ec.ECDSA(algorithm))


def is_rsa(key: SignatureKey) -> bool:
    return isinstance(key.public_key(), rsa.RSAPublicKey)


def max_signature_bytes(key: SignatureKey) -> int:
    """Room for one signature: the modulus for RSA, a DER ECDSA pair for EC."""
    public_key = key.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        return public_key.key_size // 8
    # Two integers of the curve's size, each with a sign byte, in a SEQUENCE.
    return 2 * (public_key.curve.key_size // 8 + 3) + 3


def sign_certificate(
    builder: x509.CertificateBuilder,
    key: SignatureKey,
    algorithm: HashAlgorithm,
) -> x509.Certificate:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return builder.sign(key, algorithm)

    draft = builder.sign(_placeholder(is_rsa(key)), algorithm)
    signature = sign(key, draft.tbs_certificate_bytes, algorithm)
    parsed = asn1_x509.Certificate.load(draft.public_bytes(serialization.Encoding.DER))
    assembled = asn1_x509.Certificate(
        {
            "tbs_certificate": parsed["tbs_certificate"],
            "signature_algorithm": parsed["signature_algorithm"],
            "signature_value": signature,
        }
    )
    certificate = x509.load_der_x509_certificate(assembled.dump())
    verify(key.public_key(), signature, certificate.tbs_certificate_bytes, algorithm)
    return certificate


def sign_crl(
    builder: x509.CertificateRevocationListBuilder,
    key: SignatureKey,
    algorithm: HashAlgorithm,
) -> x509.CertificateRevocationList:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return builder.sign(key, algorithm)

    draft = builder.sign(_placeholder(is_rsa(key)), algorithm)
    signature = sign(key, draft.tbs_certlist_bytes, algorithm)
    parsed = asn1_crl.CertificateList.load(
        draft.public_bytes(serialization.Encoding.DER)
    )
    assembled = asn1_crl.CertificateList(
        {
            "tbs_cert_list": parsed["tbs_cert_list"],
            "signature_algorithm": parsed["signature_algorithm"],
            "signature": signature,
        }
    )
    crl = x509.load_der_x509_crl(assembled.dump())
    verify(key.public_key(), signature, crl.tbs_certlist_bytes, algorithm)
    return crl


@lru_cache(maxsize=2)
def _placeholder(rsa_kind: bool) -> PrivateKey:
    # Only the kind matters (it sets the signature algorithm's identifier);
    # the placeholder's own signature is thrown away.
    if rsa_kind:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())
