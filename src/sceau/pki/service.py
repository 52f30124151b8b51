"""The service's own PKI: a root CA, an issuing CA, a TSA certificate, CRLs.

Created once in the data directory on first start; every process then loads
it. The root key is only unsealed to sign the root's CRL.
"""

from __future__ import annotations

import fcntl
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.db import Database, utcnow
from sceau.pki.keystore import KeySealer, PrivateKey, generate_key
from sceau.pki.models import IssuedCertificate

logger = logging.getLogger(__name__)

ROOT_NAME = "Pixel Sceau Root CA"
ISSUING_NAME = "Pixel Sceau Issuing CA"
TSA_NAME = "Pixel Sceau TSA"
ORGANISATION = "Pixel AI SARLU"
COUNTRY = "CI"

ROOT_YEARS = 25
ISSUING_YEARS = 12
TSA_YEARS = 10
SIGNING_YEARS = 3
CRL_VALIDITY = timedelta(days=7)
CRL_REFRESH = timedelta(days=1)
BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class PkiUrls:
    """Where relying parties fetch the CA certificates and the CRLs."""

    base: str

    @property
    def root_cert(self) -> str:
        return f"{self.base}/pki/root.crt"

    @property
    def root_crl(self) -> str:
        return f"{self.base}/pki/root.crl"

    @property
    def issuing_cert(self) -> str:
        return f"{self.base}/pki/issuing.crt"

    @property
    def issuing_crl(self) -> str:
        return f"{self.base}/pki/issuing.crl"

    @property
    def access_cert(self) -> str:
        return f"{self.base}/pki/access.crt"

    @property
    def access_crl(self) -> str:
        return f"{self.base}/pki/access.crl"


def _name(common_name: str, organisation: str = ORGANISATION) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, COUNTRY),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _serial() -> int:
    # 159 random bits: positive, unique without coordination between processes.
    return secrets.randbits(159) | (1 << 158)


def _years(start: datetime, years: int) -> datetime:
    return start + timedelta(days=365 * years + years // 4)


class ServicePki:
    """The loaded CA material of one process."""

    def __init__(
        self,
        *,
        root_cert: x509.Certificate,
        issuing_cert: x509.Certificate,
        issuing_key: PrivateKey,
        tsa_cert: x509.Certificate,
        tsa_key: PrivateKey,
        sealed_root_key: bytes,
        sealer: KeySealer,
        urls: PkiUrls,
    ) -> None:
        self.root_cert = root_cert
        self.issuing_cert = issuing_cert
        self.issuing_key = issuing_key
        self.tsa_cert = tsa_cert
        self.tsa_key = tsa_key
        self.sealer = sealer
        self.urls = urls
        self._sealed_root_key = sealed_root_key
        self._crls: dict[str, tuple[datetime, bytes]] = {}
        self._crl_lock = threading.Lock()

    # -- loading ---------------------------------------------------------------

    @classmethod
    def load_or_create(
        cls, directory: Path, sealer: KeySealer, urls: PkiUrls, db: Database
    ) -> ServicePki:
        directory.mkdir(parents=True, exist_ok=True)
        with _directory_lock(directory):
            if not (directory / "root.crt").exists():
                _create(directory, sealer, urls, db)
            return cls._load(directory, sealer, urls)

    @classmethod
    def _load(cls, directory: Path, sealer: KeySealer, urls: PkiUrls) -> ServicePki:
        def cert(name: str) -> x509.Certificate:
            return x509.load_pem_x509_certificate((directory / name).read_bytes())

        return cls(
            root_cert=cert("root.crt"),
            issuing_cert=cert("issuing.crt"),
            issuing_key=sealer.unseal(
                (directory / "issuing.key.sealed").read_bytes(), "pki:issuing"
            ),
            tsa_cert=cert("tsa.crt"),
            tsa_key=sealer.unseal(
                (directory / "tsa.key.sealed").read_bytes(), "pki:tsa"
            ),
            sealed_root_key=(directory / "root.key.sealed").read_bytes(),
            sealer=sealer,
            urls=urls,
        )

    # -- issuance --------------------------------------------------------------

    def issue_signing_certificate(
        self,
        session: Session,
        *,
        common_name: str,
        organisation: str,
        serial_number_attr: str,
        public_key: object,
        purpose: str,
    ) -> x509.Certificate:
        """A document-signing certificate from the issuing CA."""
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, COUNTRY),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number_attr),
            ]
        )
        now = utcnow()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.issuing_cert.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(_serial())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(
                min(_years(now, SIGNING_YEARS), self.issuing_cert.not_valid_after_utc)
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(_signer_key_usage(), True)
        )
        builder = _end_entity_extensions(
            builder, public_key, self.issuing_cert, self.urls
        )
        certificate = builder.sign(self.issuing_key, hashes.SHA256())
        _record(session, certificate, issuer="issuing", purpose=purpose)
        return certificate

    # -- CRLs ------------------------------------------------------------------

    def crl_der(self, which: str, session: Session) -> bytes:
        """The current CRL of ``root`` or ``issuing``, refreshed once a day."""
        with self._crl_lock:
            cached = self._crls.get(which)
            if cached is not None and utcnow() - cached[0] < CRL_REFRESH:
                return cached[1]
            der = self._build_crl(which, session)
            self._crls[which] = (utcnow(), der)
            return der

    def _build_crl(self, which: str, session: Session) -> bytes:
        if which == "root":
            issuer_cert = self.root_cert
            key = self.sealer.unseal(self._sealed_root_key, "pki:root")
        elif which == "issuing":
            issuer_cert, key = self.issuing_cert, self.issuing_key
        else:
            raise ValueError(f"no CRL named {which!r}")

        crl = build_crl(session, issuer_cert, key, which)
        return crl.public_bytes(serialization.Encoding.DER)

    def crls(self, session: Session) -> list[bytes]:
        return [self.crl_der("root", session), self.crl_der("issuing", session)]

    def root_pem(self) -> str:
        return self.root_cert.public_bytes(serialization.Encoding.PEM).decode()


def build_crl(
    session: Session, issuer_cert: x509.Certificate, key: PrivateKey, issuer: str
) -> x509.CertificateRevocationList:
    """A CRL naming every revoked certificate ``issuer`` has issued."""
    now = utcnow()
    revoked = session.scalars(
        select(IssuedCertificate).where(
            IssuedCertificate.issuer == issuer,
            IssuedCertificate.revoked_at.is_not(None),
        )
    ).all()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(now - BACKDATE)
        .next_update(now + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_cert.public_key()  # type: ignore[arg-type]
            ),
            False,
        )
    )
    for entry in revoked:
        assert entry.revoked_at is not None
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(int(entry.serial_hex, 16))
            .revocation_date(entry.revoked_at)
            .build()
        )
    return builder.sign(key, hashes.SHA256())


@contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    # Two processes starting at once on a fresh data directory must not both
    # create a CA; the second waits and then loads what the first made.
    with (directory / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _end_entity_extensions(
    builder: x509.CertificateBuilder,
    public_key: object,
    issuer: x509.Certificate,
    urls: PkiUrls,
) -> x509.CertificateBuilder:
    return (
        builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
            False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer.public_key()  # type: ignore[arg-type]
            ),
            False,
        )
        .add_extension(_crl_distribution(urls.issuing_crl), False)
        .add_extension(_authority_info(urls.issuing_cert), False)
    )


def _crl_distribution(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _authority_info(url: str) -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(url),
            )
        ]
    )


def _signer_key_usage() -> x509.KeyUsage:
    # digitalSignature and nonRepudiation (contentCommitment): what document
    # signatures and timestamps need, and nothing else.
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _record(
    session: Session, certificate: x509.Certificate, *, issuer: str, purpose: str
) -> None:
    session.add(
        IssuedCertificate(
            serial_hex=format(certificate.serial_number, "x"),
            issuer=issuer,
            subject=certificate.subject.rfc4514_string(),
            purpose=purpose,
            not_after=certificate.not_valid_after_utc,
        )
    )


def self_signed_ca(
    key: PrivateKey,
    name: x509.Name,
    *,
    years: int,
    path_length: int,
    algorithm: hashes.SHA256 | hashes.SHA384 | None = None,
) -> x509.Certificate:
    """A root: self-signed, able to sign certificates and CRLs only."""
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(_years(now, years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), True)
        .add_extension(_ca_key_usage(), True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
        )
        .sign(key, algorithm or hashes.SHA256())
    )


def _create(directory: Path, sealer: KeySealer, urls: PkiUrls, db: Database) -> None:
    logger.info("pki.create", extra={"directory": str(directory)})
    now = utcnow()

    # The root: self-signed, long-lived, used only for the issuing CA and its CRL.
    root_key = generate_key("rsa3072")
    root_name = _name(ROOT_NAME)
    root = self_signed_ca(root_key, root_name, years=ROOT_YEARS, path_length=1)

    # The issuing CA: signs the signing certificates and the TSA certificate.
    issuing_key = generate_key("rsa3072")
    issuing = (
        x509.CertificateBuilder()
        .subject_name(_name(ISSUING_NAME))
        .issuer_name(root_name)
        .public_key(issuing_key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(_years(now, ISSUING_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        .add_extension(_ca_key_usage(), True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(issuing_key.public_key()), False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            False,
        )
        .add_extension(_crl_distribution(urls.root_crl), False)
        .add_extension(_authority_info(urls.root_cert), False)
        .sign(root_key, hashes.SHA256())
    )

    # The TSA: the critical timeStamping EKU is what RFC 3161 §2.3 requires.
    tsa_key = generate_key("rsa3072")
    tsa_builder = (
        x509.CertificateBuilder()
        .subject_name(_name(TSA_NAME))
        .issuer_name(issuing.subject)
        .public_key(tsa_key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(_years(now, TSA_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            _signer_key_usage(),
            True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)
    )
    tsa = _end_entity_extensions(tsa_builder, tsa_key.public_key(), issuing, urls).sign(
        issuing_key, hashes.SHA256()
    )

    # Write keys first and certificates last: root.crt marks a complete PKI.
    _write_private(directory / "root.key.sealed", sealer.seal(root_key, "pki:root"))
    _write_private(
        directory / "issuing.key.sealed", sealer.seal(issuing_key, "pki:issuing")
    )
    _write_private(directory / "tsa.key.sealed", sealer.seal(tsa_key, "pki:tsa"))
    for name, certificate in (("tsa.crt", tsa), ("issuing.crt", issuing)):
        (directory / name).write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
        )
    with db.transaction() as session:
        _record(session, issuing, issuer="root", purpose="issuing_ca")
        _record(session, tsa, issuer="issuing", purpose="tsa")
    (directory / "root.crt").write_bytes(root.public_bytes(serialization.Encoding.PEM))


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)
