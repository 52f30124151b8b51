"""Signature records: writing one with its signed file, and reading them back
for the client that owns them."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sceau.db import utcnow
from sceau.signing.errors import SignatureNotFound, SignedDocumentExpired
from sceau.signing.models import SignatureRecord, SignedDocument

REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
REF_PATTERN = re.compile(r"^SIG-\d{8}-[0-9A-Z]{6}$")


def new_signature_ref(now: datetime) -> str:
    suffix = "".join(secrets.choice(REF_ALPHABET) for _ in range(6))
    return f"SIG-{now:%Y%m%d}-{suffix}"


@dataclass(frozen=True)
class NewSignature:
    ref: str
    client_id: str
    code_09: str
    mode: str
    level: str
    reason: str
    signer_name: str
    sha256_source: str
    size_source: int
    signed_pdf: bytes
    sha256_signed: str
    ref_horodatage: str
    callback_url: str | None
    request_id: str
    api_key_id: str | None
    duration_ms: int
    signed_at: datetime
    act_type: str | None = None
    amount: int | None = None
    delegation_ref: str | None = None
    matrix_version: int | None = None


def record_signature(
    session: Session, new: NewSignature, retention: timedelta
) -> SignatureRecord:
    record = SignatureRecord(
        ref=new.ref,
        client_id=new.client_id,
        code_09=new.code_09,
        mode=new.mode,
        level=new.level,
        reason=new.reason,
        signer_name=new.signer_name,
        sha256_source=new.sha256_source,
        sha256_signed=new.sha256_signed,
        size_source=new.size_source,
        size_signed=len(new.signed_pdf),
        ref_horodatage=new.ref_horodatage,
        callback_url=new.callback_url,
        request_id=new.request_id,
        api_key_id=new.api_key_id,
        duration_ms=new.duration_ms,
        signed_at=new.signed_at,
        keep_until=new.signed_at + retention,
        act_type=new.act_type,
        amount=new.amount,
        delegation_ref=new.delegation_ref,
        matrix_version=new.matrix_version,
    )
    session.add(record)
    session.flush()
    session.add(SignedDocument(ref=new.ref, pdf=new.signed_pdf))
    return record


def get_signature(session: Session, client_id: str, ref: str) -> SignatureRecord:
    """The client's own record; another client's reference reads as unknown."""
    if not REF_PATTERN.match(ref):
        raise SignatureNotFound()
    record = session.get(SignatureRecord, ref)
    if record is None or record.client_id != client_id:
        raise SignatureNotFound()
    return record


def get_signed_pdf(session: Session, record: SignatureRecord) -> bytes:
    if record.keep_until <= utcnow():
        raise SignedDocumentExpired()
    pdf = session.scalar(
        select(SignedDocument.pdf).where(SignedDocument.ref == record.ref)
    )
    if pdf is None:
        raise SignedDocumentExpired()
    return pdf


def purge_expired_documents(session: Session) -> int:
    """Delete signed files whose retention is over; their records stay."""
    expired = select(SignatureRecord.ref).where(SignatureRecord.keep_until <= utcnow())
    result = session.execute(
        delete(SignedDocument).where(SignedDocument.ref.in_(expired))
    )
    return int(getattr(result, "rowcount", 0) or 0)
