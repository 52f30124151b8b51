"""Level-C client certificates: issued by the access CA from a CSR or with a
generated key in a PKCS#12 file, bound to one client by fingerprint, revoked
at once."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record as audit
from sceau.clients.errors import ClientCertificateNotFound
from sceau.clients.models import ClientCertificate
from sceau.clients.service import get_client
from sceau.db import utcnow
from sceau.pki.access import AccessCa, fingerprint
from sceau.pki.models import IssuedCertificate

MIN_PASSPHRASE = 12


@dataclass(frozen=True)
class IssuedClientCertificate:
    record: ClientCertificate
    certificate: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def issue_from_csr(
    session: Session,
    access_ca: AccessCa,
    client_id: str,
    csr_pem: bytes,
    *,
    by: Actor,
) -> IssuedClientCertificate:
    """The CSR proves possession of the key; only its key is used: the subject
    is ours (the client's name and id), whatever the CSR asked for."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise ValueError(
            "the file is not a PEM certificate signing request (CSR)"
        ) from exc
    if not csr.is_signature_valid:
        raise ValueError("the CSR's signature does not verify")
    return _issue(session, access_ca, client_id, csr.public_key(), by, "csr")


def issue_pkcs12(
    session: Session,
    access_ca: AccessCa,
    client_id: str,
    passphrase: str,
    *,
    by: Actor,
) -> tuple[IssuedClientCertificate, bytes]:
    """A new P-256 key and its certificate, in a PKCS#12 file under
    ``passphrase``; the key exists nowhere else."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValueError(f"the passphrase needs at least {MIN_PASSPHRASE} characters")
    key = ec.generate_private_key(ec.SECP256R1())
    issued = _issue(session, access_ca, client_id, key.public_key(), by, "pkcs12")
    bundle = pkcs12.serialize_key_and_certificates(
        name=issued.record.client_id.encode(),
        key=key,
        cert=issued.certificate,
        cas=[access_ca.certificate],
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase.encode()),
    )
    return issued, bundle


def _issue(
    session: Session,
    access_ca: AccessCa,
    client_id: str,
    public_key: object,
    by: Actor,
    origin: str,
) -> IssuedClientCertificate:
    client = get_client(session, client_id)
    certificate = access_ca.issue_client_certificate(
        session,
        client_id=client.id,
        organisation=client.name,
        public_key=public_key,
    )
    record = ClientCertificate(
        fingerprint=fingerprint(certificate),
        client_id=client.id,
        serial_hex=format(certificate.serial_number, "x"),
        subject=certificate.subject.rfc4514_string(),
        not_after=certificate.not_valid_after_utc,
    )
    session.add(record)
    session.flush()
    audit(
        session,
        actions.CERTIFICAT_CLIENT_EMIS,
        actor=by,
        subject=record.fingerprint,
        objects={"certificat": record.fingerprint, "client": client.id},
        details={
            "numero_serie": record.serial_hex,
            "expire_le": record.not_after,
            "origine_cle": origin,
        },
        client_id=client.id,
    )
    return IssuedClientCertificate(record, certificate)


def revoke_client_certificate(
    session: Session, reference: str, *, by: Actor
) -> ClientCertificate:
    """By fingerprint or serial (hex); the next request and the next CRL see it."""
    reference = reference.strip().lower().replace(":", "")
    record = session.get(ClientCertificate, reference) or session.scalar(
        select(ClientCertificate).where(ClientCertificate.serial_hex == reference)
    )
    if record is None:
        raise ClientCertificateNotFound()
    if record.revoked_at is None:
        now = utcnow()
        record.revoked_at = now
        issued = session.get(IssuedCertificate, record.serial_hex)
        if issued is not None:
            issued.revoked_at = now
        audit(
            session,
            actions.CERTIFICAT_CLIENT_REVOQUE,
            actor=by,
            subject=record.fingerprint,
            objects={"certificat": record.fingerprint, "client": record.client_id},
            details={"numero_serie": record.serial_hex},
            client_id=record.client_id,
            now=now,
        )
    return record


def list_client_certificates(
    session: Session, client_id: str | None = None
) -> list[ClientCertificate]:
    query = select(ClientCertificate).order_by(ClientCertificate.created_at)
    if client_id is not None:
        query = query.where(ClientCertificate.client_id == client_id)
    return list(session.scalars(query))
