"""The path every signature takes, whatever its mode: check the document, sign
it with the engine, and store the record, the signed file, the anchoring
request and the event in one transaction.

A mode decides *who* signs (``sceau.modes.system`` for a client's system
identity, ``sceau.modes.human`` for a logged-in person); it hands this module
a ``SigningJob``. A mode that must change its own rows in the same transaction
(an act becoming signed) passes ``within``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import UnionType
from typing import TypeVar

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator.errors import CRLValidationError, PathError, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sceau.anchoring.service import queue_for_anchoring
from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record as record_audit
from sceau.billing.service import record_usage
from sceau.db import utcnow
from sceau.events import types as event_types
from sceau.events.service import record_event
from sceau.hsm.errors import HsmUnavailable
from sceau.idempotency.service import Claim, complete
from sceau.identities.models import Identity
from sceau.lifecycle.models import PILOT
from sceau.lifecycle.pilot import check_pilot_cap, marked_reason, pilot_terms
from sceau.runtime import Runtime
from sceau.signing.engine import (
    Level,
    PdfRejected,
    SignedPdf,
    SigningKey,
    TrustMaterial,
)
from sceau.signing.errors import (
    AppearanceInvalid,
    PdfTooLarge,
    PdfUnsignable,
    TsaUnavailable,
    ValidationDataUnavailable,
)
from sceau.signing.models import SignatureRecord
from sceau.signing.seal import Appearance, SealPlacement
from sceau.signing.service import NewSignature, new_signature_ref, record_signature
from sceau.timestamping.external import TimestampUnavailable
from sceau.verification.links import verification_page_url
from sceau.webhooks.ssrf import check_url

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseException)


@dataclass(frozen=True)
class SigningJob:
    """One document to sign in the name of ``identity``, for ``client_id``."""

    client_id: str
    identity: Identity
    mode: str
    reason: str
    pdf: bytes
    level: Level
    request_id: str
    started: float
    # Who asked for the signature, for the audit trail: the client's system
    # as it authenticated, the person, or the service for its own documents.
    actor: Actor
    callback_url: str | None = None
    api_key_id: str | None = None
    claim: Claim | None = None
    # Where to draw a visible seal; None signs invisibly.
    seal: SealPlacement | None = None
    # Extra fields for the ``signature.signee`` event (an act's reference…).
    event_data: dict[str, object] = field(default_factory=dict)
    # What the request declared, and what allowed the signature.
    act_type: str | None = None
    amount: int | None = None
    delegation_ref: str | None = None
    matrix_version: int | None = None
    # The client's integration step when the caller already read it (at
    # authentication): outside the pilot, the pipeline need not read it again.
    client_state: str | None = None
    # More references and facts for the trail's ``signature.signee`` entry
    # (the act, the draft; how a person authenticated).
    audit_objects: dict[str, str] = field(default_factory=dict)
    audit_details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class SignatureOutcome:
    record: SignatureRecord
    signed_pdf: bytes
    # A French sentence for the answer's warning header (an authority matrix
    # overdue for review).
    warning: str | None = None


def check_document(runtime: Runtime, pdf: bytes, callback_url: str | None) -> None:
    """What is refused before any key is touched: size and callback address."""
    settings = runtime.settings
    if len(pdf) > settings.max_pdf_bytes:
        raise PdfTooLarge(
            f"Le PDF dépasse la taille maximale de {settings.max_pdf_bytes} octets."
        )
    if callback_url is not None:
        # Refused before anything is signed; each delivery checks it again.
        check_url(
            callback_url,
            allow_http_loopback=settings.allow_http_loopback_callbacks,
            require_resolution=False,
        )


def sign_and_record(
    runtime: Runtime,
    job: SigningJob,
    *,
    within: Callable[[Session, SignatureRecord], None] | None = None,
) -> SignatureOutcome:
    """Sign and store; nothing is stored unless all of it succeeds, ``within``
    included (it runs in the same transaction, after the record is written)."""
    check_document(runtime, job.pdf, job.callback_url)
    pilot = None
    # Steps only go forward: a client past the pilot at authentication is
    # past it now.
    if job.client_state in (None, PILOT):
        with runtime.db.sessions() as session:
            pilot = pilot_terms(session, runtime.settings, job.client_id)
            if pilot is not None:
                check_pilot_cap(session, job.client_id, pilot, utcnow(), lock=False)
    if pilot is not None:
        job = replace(job, reason=marked_reason(job.reason, pilot))
    signing_key = runtime.signing_key(job.identity)
    trust = runtime.trust() if job.level in ("B-LT", "B-LTA") else None
    label = job.identity.label

    # A reference collision is about one in a billion a day; on the rare
    # conflict, sign again under a new reference rather than fail.
    for attempt in range(2):
        now = utcnow()
        ref = new_signature_ref(now)
        signed = _sign(runtime, job, signing_key, label, ref, now, trust)
        try:
            with runtime.db.transaction() as session:
                if pilot is not None:
                    check_pilot_cap(session, job.client_id, pilot, now, lock=True)
                anchor_ref = queue_for_anchoring(
                    session, client_id=job.client_id, sha256=signed.sha256
                )
                record = record_signature(
                    session,
                    NewSignature(
                        ref=ref,
                        client_id=job.client_id,
                        code_09=job.identity.code_09,
                        mode=job.mode,
                        level=job.level,
                        reason=job.reason,
                        signer_name=label,
                        sha256_source=hashlib.sha256(job.pdf).hexdigest(),
                        size_source=len(job.pdf),
                        signed_pdf=signed.pdf,
                        sha256_signed=signed.sha256,
                        ref_horodatage=anchor_ref,
                        callback_url=job.callback_url,
                        request_id=job.request_id,
                        api_key_id=job.api_key_id,
                        duration_ms=round((time.perf_counter() - job.started) * 1000),
                        signed_at=now,
                        act_type=job.act_type,
                        amount=job.amount,
                        delegation_ref=job.delegation_ref,
                        matrix_version=job.matrix_version,
                    ),
                    timedelta(days=runtime.settings.retention_days),
                )
                record_usage(session, record)
                _record_in_trail(session, job, record)
                record_event(
                    session,
                    client_id=job.client_id,
                    type=event_types.SIGNATURE_SIGNEE,
                    data=signed_event_data(record) | job.event_data,
                    callback_url=job.callback_url,
                    subject=ref,
                    now=now,
                )
                if within is not None:
                    within(session, record)
                if job.claim is not None:
                    complete(session, job.claim, ref)
        except IntegrityError:
            if attempt == 0:
                logger.warning("signature.ref_collision", extra={"ref": ref})
                continue
            raise
        logger.info(
            "signature.signed",
            extra={
                "ref": ref,
                "level": job.level,
                "mode": job.mode,
                "client_id": job.client_id,
            },
        )
        return SignatureOutcome(record=record, signed_pdf=signed.pdf)
    raise AssertionError("unreachable")  # pragma: no cover


def _record_in_trail(
    session: Session, job: SigningJob, record: SignatureRecord
) -> None:
    objects = {
        "signature": record.ref,
        "identite": record.code_09,
        "horodatage": record.ref_horodatage,
    }
    if record.delegation_ref is not None:
        objects["delegation"] = record.delegation_ref
    details: dict[str, object] = {
        "mode": record.mode,
        "niveau_pades": record.level,
        "motif": record.reason,
    }
    details |= {
        name: value
        for name, value in (
            ("type_acte", record.act_type),
            ("montant", record.amount),
            ("version_matrice", record.matrix_version),
        )
        if value is not None
    }
    record_audit(
        session,
        actions.SIGNATURE_SIGNEE,
        actor=job.actor,
        subject=record.ref,
        objects=objects | job.audit_objects,
        hashes={"source": record.sha256_source, "signe": record.sha256_signed},
        details=details | job.audit_details,
        client_id=record.client_id,
        request_id=record.request_id or None,
        now=record.signed_at,
    )


def signed_event_data(record: SignatureRecord) -> dict[str, object]:
    return {
        "ref_signature": record.ref,
        "code_09": record.code_09,
        "mode": record.mode,
        "niveau": record.level,
        "sha256_signe": record.sha256_signed,
        "ref_horodatage": record.ref_horodatage,
        "signe_le": record.signed_at.isoformat().replace("+00:00", "Z"),
        "id_requete": record.request_id,
    } | {
        name: value
        for name, value in (
            ("type_acte", record.act_type),
            ("montant", record.amount),
            ("ref_delegation", record.delegation_ref),
            ("version_matrice", record.matrix_version),
        )
        if value is not None
    }


def _sign(
    runtime: Runtime,
    job: SigningJob,
    signing_key: SigningKey,
    label: str,
    ref: str,
    now: datetime,
    trust: TrustMaterial | None,
) -> SignedPdf:
    appearance = None
    if job.seal is not None:
        appearance = Appearance(
            placement=job.seal,
            signer_name=label,
            code_09=job.identity.code_09,
            reason=job.reason,
            signed_at=now,
            ref_signature=ref,
            verification_url=verification_page_url(
                runtime.settings.public_base_url, ref
            ),
        )
    try:
        return runtime.engine.sign(
            job.pdf,
            key=signing_key,
            reason=job.reason,
            signer_name=label,
            level=job.level,
            field_name=f"Sceau-{ref}",
            trust=trust,
            appearance=appearance,
            delegation_ref=job.delegation_ref,
        )
    except (AppearanceInvalid, HsmUnavailable):
        raise
    except PdfRejected as exc:
        raise PdfUnsignable(exc.message, code=exc.code) from exc
    except Exception as exc:
        token_failure = _cause_of(exc, HsmUnavailable)
        if token_failure is not None:
            # The key's token (or the TSA key's) is out of reach, or lacks
            # the key, whatever pyHanko wrapped it in.
            raise type(token_failure)() from exc
        if _caused_by(exc, TimestampUnavailable | TimestampRequestError):
            raise TsaUnavailable() from exc
        if _caused_by(exc, PathError | ValidationError | CRLValidationError):
            # B-LT could not validate a certificate it must embed data for:
            # our configuration (an external TSA's roots, its CRLs), not the
            # client's document.
            logger.error("signature.validation_data_unavailable", exc_info=True)
            raise ValidationDataUnavailable() from exc
        # Identity, key and TSA are ours and already loaded: what is left to
        # fail inside pyHanko is the client's document (a page tree without
        # /Kids, a broken object…), which pyHanko reports with many exception
        # types. The trace is logged so a genuine bug can still be found.
        logger.warning(
            "signature.pdf_unsignable",
            extra={
                "reason": type(exc).__name__,
                "is_pdf_error": isinstance(exc, PdfError),
            },
            exc_info=True,
        )
        raise PdfUnsignable(
            "Le PDF a une structure que le moteur de signature ne peut pas "
            "mettre à jour ; régénérez-le (par exemple en l'imprimant en PDF)."
        ) from exc


def _caused_by(exc: BaseException, kind: type[BaseException] | UnionType) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _cause_of(exc: BaseException, kind: type[E]) -> E | None:
    """The first ``kind`` in ``exc``'s chain, or ``None``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
