"""The service's own PKI: a root CA, an issuing CA, a TSA certificate, CRLs.

Created once in the data directory on first start; every process then loads
it. The root key is only unsealed to sign the root's CRL.

The keys are either sealed files beside the certificates (``*.key.sealed``)
or keys in a PKCS#11 token, of which the directory only keeps the label
(``*.key.pkcs11``); the certificates are files in both cases.
"""

from __future__ import annotations

import fcntl
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.db import Database, utcnow
from sceau.errors import ConfigurationError
from sceau.hsm.keys import (
    TokenAlgorithm,
    TokenKey,
    TokenKeys,
    destroyed_on_failure,
)
from sceau.pki.keystore import (
    KeySealer,
    SignatureKey,
    generate_key,
)
from sceau.pki.models import IssuedCertificate
from sceau.pki.signatures import sign_certificate, sign_crl

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
        issuing_key: SignatureKey,
        tsa_cert: x509.Certificate,
        tsa_key: SignatureKey,
        root_key: Callable[[], SignatureKey],
        sealer: KeySealer,
        urls: PkiUrls,
        new_keys: TokenKeys | None = None,
    ) -> None:
        self.root_cert = root_cert
        self.issuing_cert = issuing_cert
        self.issuing_key = issuing_key
        self.tsa_cert = tsa_cert
        self.tsa_key = tsa_key
        self.sealer = sealer
        self.urls = urls
        # The token new identity keys are made in; None: sealed files.
        self.new_keys = new_keys
        self._root_key = root_key
        self._crls: dict[str, tuple[datetime, bytes]] = {}
        self._crl_lock = threading.Lock()

    # -- loading ---------------------------------------------------------------

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
    ) -> ServicePki:
        """``token`` is where keys already in a token are found;
        ``create_in_token`` puts new keys there: a new PKI's, and new
        identities' (``new_keys``)."""
        new_keys = token if create_in_token else None
        directory.mkdir(parents=True, exist_ok=True)
        with _directory_lock(directory):
            if not (directory / "root.crt").exists():
                with destroyed_on_failure(new_keys) as making:
                    _create(directory, sealer, urls, db, making)
            pki = cls._load(directory, sealer, urls, token)
        pki.new_keys = new_keys
        return pki

    @classmethod
    def _load(
        cls,
        directory: Path,
        sealer: KeySealer,
        urls: PkiUrls,
        token: TokenKeys | None,
    ) -> ServicePki:
        def cert(name: str) -> x509.Certificate:
            return x509.load_pem_x509_certificate((directory / name).read_bytes())

        root_cert, issuing_cert, tsa_cert = (
            cert("root.crt"),
            cert("issuing.crt"),
            cert("tsa.crt"),
        )

        # The root key is only needed for the root's CRL, once a day.
        root_reference = directory / "root.key.pkcs11"
        if root_reference.exists():
            token_root = load_key(
                directory, "root", root_cert.public_key(), sealer, token
            )

            def root_key() -> SignatureKey:
                return token_root
        else:
            sealed_root = (directory / "root.key.sealed").read_bytes()

            def root_key() -> SignatureKey:
                return sealer.unseal(sealed_root, "pki:root")

        return cls(
            root_cert=root_cert,
            issuing_cert=issuing_cert,
            issuing_key=load_key(
                directory, "issuing", issuing_cert.public_key(), sealer, token
            ),
            tsa_cert=tsa_cert,
            tsa_key=load_key(directory, "tsa", tsa_cert.public_key(), sealer, token),
            root_key=root_key,
            sealer=sealer,
            urls=urls,
        )

    @property
    def keys_in_token(self) -> bool:
        return not isinstance(
            self.issuing_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
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
        certificate = sign_certificate(builder, self.issuing_key, hashes.SHA256())
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
            issuer_cert, key = self.root_cert, self._root_key()
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
    session: Session, issuer_cert: x509.Certificate, key: SignatureKey, issuer: str
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
    return sign_crl(builder, key, hashes.SHA256())


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
    key: SignatureKey,
    name: x509.Name,
    *,
    years: int,
    path_length: int,
    algorithm: hashes.SHA256 | hashes.SHA384 | None = None,
) -> x509.Certificate:
    """A root: self-signed, able to sign certificates and CRLs only."""
    now = utcnow()
    builder = (
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
    )
    return sign_certificate(builder, key, algorithm or hashes.SHA256())


def _create(
    directory: Path,
    sealer: KeySealer,
    urls: PkiUrls,
    db: Database,
    token: TokenKeys | None,
) -> None:
    logger.info(
        "pki.create",
        extra={"directory": str(directory), "keys": "pkcs11" if token else "file"},
    )
    now = utcnow()

    def new_key(name: str, algorithm: TokenAlgorithm) -> SignatureKey:
        if token is not None:
            return token.generate(algorithm, f"pki:{name}")
        return generate_key("rsa3072")

    # The root: self-signed, long-lived, used only for the issuing CA and its CRL.
    root_key = new_key("root", "rsa3072")
    root_name = _name(ROOT_NAME)
    root = self_signed_ca(root_key, root_name, years=ROOT_YEARS, path_length=1)

    # The issuing CA: signs the signing certificates and the TSA certificate.
    issuing_key = new_key("issuing", "rsa3072")
    issuing_builder = (
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
    )
    issuing = sign_certificate(issuing_builder, root_key, hashes.SHA256())

    # The TSA: the critical timeStamping EKU is what RFC 3161 §2.3 requires.
    tsa_key = new_key("tsa", "rsa3072")
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
    tsa = sign_certificate(
        _end_entity_extensions(tsa_builder, tsa_key.public_key(), issuing, urls),
        issuing_key,
        hashes.SHA256(),
    )

    # Write keys first and certificates last: root.crt marks a complete PKI.
    for name, key in (("root", root_key), ("issuing", issuing_key), ("tsa", tsa_key)):
        write_key(directory, name, key, sealer)
    for name, certificate in (("tsa.crt", tsa), ("issuing.crt", issuing)):
        (directory / name).write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
        )
    with db.transaction() as session:
        _record(session, issuing, issuer="root", purpose="issuing_ca")
        _record(session, tsa, issuer="issuing", purpose="tsa")
    (directory / "root.crt").write_bytes(root.public_bytes(serialization.Encoding.PEM))


def write_key(
    directory: Path,
    name: str,
    key: SignatureKey,
    sealer: KeySealer,
    purpose: str | None = None,
) -> None:
    """``<name>.key.sealed`` for a key in memory, ``<name>.key.pkcs11`` (the
    token and the key's label, nothing secret) for a key in a token."""
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        _write_private(
            directory / f"{name}.key.sealed", sealer.seal(key, purpose or f"pki:{name}")
        )
        return
    assert isinstance(key, TokenKey)
    reference = {
        "token": key.pool.config.token_label,
        "label": key.label,
        "id": key.key_id.hex(),
    }
    (directory / f"{name}.key.pkcs11").write_text(
        json.dumps(reference, indent=2) + "\n"
    )


def load_key(
    directory: Path,
    name: str,
    public_key: object,
    sealer: KeySealer,
    token: TokenKeys | None,
    purpose: str | None = None,
) -> SignatureKey:
    """The key ``write_key`` stored, checked against its certificate's key."""
    reference_path = directory / f"{name}.key.pkcs11"
    if not reference_path.exists():
        return sealer.unseal(
            (directory / f"{name}.key.sealed").read_bytes(), purpose or f"pki:{name}"
        )

    reference = json.loads(reference_path.read_text())
    if token is None:
        raise ConfigurationError(
            f"the {name} key of the PKI in {directory} is in the PKCS#11 token "
            f"{reference['token']!r}: set SCEAU_PKCS11_MODULE, SCEAU_PKCS11_TOKEN "
            'and the PIN (docs/operations.md, "Keys in a PKCS#11 token").'
        )
    if reference["token"] != token.token_label:
        raise ConfigurationError(
            f"the {name} key of the PKI in {directory} is in the token "
            f"{reference['token']!r}, not in {token.token_label!r} "
            "(SCEAU_PKCS11_TOKEN)."
        )
    key = token.key(reference["label"], public_key)
    if key.key_id.hex() != reference["id"]:
        raise ConfigurationError(
            f"{reference_path} does not name the key of its certificate"
        )
    return key


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)
