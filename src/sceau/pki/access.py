"""The access CA: a root of its own for level C, apart from the document PKI.

It issues the TLS client certificates of level-C clients (and, in development,
the TLS front's server certificate). Keeping it apart from the root that
anchors document signatures means the TLS front trusts this CA alone: a
document-signing certificate, or anything else the signing hierarchy issues,
can never open a mutual-TLS connection.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy.orm import Session

from sceau.db import Database, utcnow
from sceau.hsm.keys import TokenKeys, destroyed_on_failure
from sceau.pki.keystore import KeySealer, SignatureKey
from sceau.pki.service import (
    BACKDATE,
    PkiUrls,
    _authority_info,
    _crl_distribution,
    _directory_lock,
    _name,
    _record,
    _serial,
    build_crl,
    load_key,
    self_signed_ca,
    write_key,
)
from sceau.pki.signatures import sign_certificate

logger = logging.getLogger(__name__)

ACCESS_CA_NAME = "Pixel Sceau Access CA"
ACCESS_CA_YEARS = 15
CLIENT_CERT_DAYS = 397
SERVER_CERT_DAYS = 397
ISSUER = "access"
PURPOSE_CLIENT = "client_tls"
PURPOSE_SERVER = "server_tls"
PURPOSE_KEY = "pki:access"
MIN_RSA_BITS = 2048
ALLOWED_CURVES = (ec.SECP256R1, ec.SECP384R1)


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER, lower-case hex: what binds a certificate to a client."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


class UnacceptableKey(ValueError):
    """A CSR whose key is too weak or of a kind the TLS front cannot use."""


class AccessCa:
    def __init__(
        self, certificate: x509.Certificate, key: SignatureKey, urls: PkiUrls
    ) -> None:
        self.certificate = certificate
        self._key = key
        self.urls = urls

    @classmethod
    def load_or_create(
        cls,
        directory: Path,
        sealer: KeySealer,
        urls: PkiUrls,
        db: Database,
        *,
        token: TokenKeys | None = None,
        create_in_token: bool = False,
    ) -> AccessCa:
        directory.mkdir(parents=True, exist_ok=True)
        with _directory_lock(directory):
            if not (directory / "access-ca.crt").exists():
                with destroyed_on_failure(token if create_in_token else None) as making:
                    _create(directory, sealer, db, making)
            certificate = x509.load_pem_x509_certificate(
                (directory / "access-ca.crt").read_bytes()
            )
            key = load_key(
                directory,
                "access-ca",
                certificate.public_key(),
                sealer,
                token,
                purpose=PURPOSE_KEY,
            )
        return cls(certificate, key, urls)

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    # -- issuance --------------------------------------------------------------

    def issue_client_certificate(
        self,
        session: Session,
        *,
        client_id: str,
        organisation: str,
        public_key: object,
    ) -> x509.Certificate:
        _check_public_key(public_key)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64]),
                x509.NameAttribute(NameOID.COMMON_NAME, client_id),
            ]
        )
        builder = self._end_entity(subject, public_key, CLIENT_CERT_DAYS).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        certificate = sign_certificate(builder, self._key, hashes.SHA256())
        _record(session, certificate, issuer=ISSUER, purpose=PURPOSE_CLIENT)
        return certificate

    def issue_server_certificate(
        self, session: Session, hostnames: list[str], public_key: object
    ) -> x509.Certificate:
        """The TLS front's certificate, for development and tests; production
        fronts usually carry a certificate from a public CA."""
        names: list[x509.GeneralName] = []
        for host in hostnames:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
        builder = (
            self._end_entity(subject, public_key, SERVER_CERT_DAYS)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False
            )
            .add_extension(x509.SubjectAlternativeName(names), False)
        )
        certificate = sign_certificate(builder, self._key, hashes.SHA256())
        _record(session, certificate, issuer=ISSUER, purpose=PURPOSE_SERVER)
        return certificate

    def _end_entity(
        self, subject: x509.Name, public_key: object, days: int
    ) -> x509.CertificateBuilder:
        now = utcnow()
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(_serial())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(
                min(now + timedelta(days=days), self.certificate.not_valid_after_utc)
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(_tls_key_usage(public_key), True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
                False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.certificate.public_key()  # type: ignore[arg-type]
                ),
                False,
            )
            .add_extension(_crl_distribution(self.urls.access_crl), False)
            .add_extension(_authority_info(self.urls.access_cert), False)
        )

    # -- revocation ------------------------------------------------------------

    def crl(self, session: Session) -> x509.CertificateRevocationList:
        """Built on each call: a revocation must show in the next fetch, and
        an ECDSA signature costs a fraction of a millisecond."""
        return build_crl(session, self.certificate, self._key, ISSUER)


def _check_public_key(public_key: object) -> None:
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < MIN_RSA_BITS:
            raise UnacceptableKey(f"RSA keys need at least {MIN_RSA_BITS} bits")
        return
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ALLOWED_CURVES):
            raise UnacceptableKey("EC keys must be on P-256 or P-384")
        return
    raise UnacceptableKey("the key must be RSA or EC (P-256, P-384)")


def _tls_key_usage(public_key: object) -> x509.KeyUsage:
    # RSA key exchange in TLS 1.2 needs keyEncipherment; EC keys only sign.
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _create(
    directory: Path, sealer: KeySealer, db: Database, token: TokenKeys | None
) -> None:
    logger.info("pki.access_ca.create", extra={"keys": "pkcs11" if token else "file"})
    key: SignatureKey = (
        token.generate("ecdsa-p384", PURPOSE_KEY)
        if token is not None
        else ec.generate_private_key(ec.SECP384R1())
    )
    certificate = self_signed_ca(
        key,
        _name(ACCESS_CA_NAME),
        years=ACCESS_CA_YEARS,
        path_length=0,
        algorithm=hashes.SHA384(),
    )
    write_key(directory, "access-ca", key, sealer, purpose=PURPOSE_KEY)
    with db.transaction() as session:
        _record(session, certificate, issuer=ISSUER, purpose="access_ca")
    (directory / "access-ca.crt").write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
    )
