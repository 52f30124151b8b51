"""Mode *système*: a document signed in the name of the client's own system
identity (``09S-…``), in one pass from the request to the stored record."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from types import UnionType

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator.errors import CRLValidationError, PathError, ValidationError
from sqlalchemy.exc import IntegrityError

from sceau.anchoring.service import queue_for_anchoring
from sceau.db import utcnow
from sceau.events import types as event_types
from sceau.events.service import record_event
from sceau.idempotency.service import Claim, complete
from sceau.identities.service import resolve_signing_identity
from sceau.runtime import Runtime
from sceau.signing.engine import (
    Level,
    PdfRejected,
    SignedPdf,
    SigningKey,
    TrustMaterial,
)
from sceau.signing.errors import (
    PdfTooLarge,
    PdfUnsignable,
    TsaUnavailable,
    ValidationDataUnavailable,
)
from sceau.signing.models import SignatureRecord
from sceau.signing.service import NewSignature, new_signature_ref, record_signature
from sceau.timestamping.external import TimestampUnavailable
from sceau.webhooks.ssrf import check_url

logger = logging.getLogger(__name__)

MODE_SYSTEM = "systeme"


@dataclass(frozen=True)
class SystemSignatureRequest:
    code_09: str
    signer_name: str
    reason: str
    pdf: bytes
    level: Level
    callback_url: str | None


@dataclass(frozen=True)
class SignatureOutcome:
    record: SignatureRecord
    signed_pdf: bytes


def sign_in_system_mode(
    runtime: Runtime,
    request: SystemSignatureRequest,
    *,
    client_id: str,
    api_key_id: str | None,
    request_id: str,
    started: float,
    claim: Claim | None = None,
) -> SignatureOutcome:
    """Check, sign, and record; nothing is stored unless all of it succeeds."""
    settings = runtime.settings
    if len(request.pdf) > settings.max_pdf_bytes:
        raise PdfTooLarge(
            f"Le PDF dépasse la taille maximale de {settings.max_pdf_bytes} octets."
        )
    if request.callback_url is not None:
        # Refused before anything is signed; each delivery checks it again.
        check_url(
            request.callback_url,
            allow_http_loopback=settings.allow_http_loopback_callbacks,
            require_resolution=False,
        )

    with runtime.db.sessions() as session:
        identity = resolve_signing_identity(
            session,
            client_id=client_id,
            code_09=request.code_09,
            signer_name=request.signer_name,
        )
    signing_key = runtime.signing_key(identity)
    trust = runtime.trust() if request.level in ("B-LT", "B-LTA") else None

    # A reference collision is about one in a billion a day; on the rare
    # conflict, sign again under a new reference rather than fail.
    for attempt in range(2):
        now = utcnow()
        ref = new_signature_ref(now)
        signed = _sign(runtime, request, signing_key, identity.label, ref, trust)
        try:
            with runtime.db.transaction() as session:
                anchor_ref = queue_for_anchoring(
                    session, client_id=client_id, sha256=signed.sha256
                )
                record = record_signature(
                    session,
                    NewSignature(
                        ref=ref,
                        client_id=client_id,
                        code_09=identity.code_09,
                        mode=MODE_SYSTEM,
                        level=request.level,
                        reason=request.reason,
                        signer_name=identity.label,
                        sha256_source=hashlib.sha256(request.pdf).hexdigest(),
                        size_source=len(request.pdf),
                        signed_pdf=signed.pdf,
                        sha256_signed=signed.sha256,
                        ref_horodatage=anchor_ref,
                        callback_url=request.callback_url,
                        request_id=request_id,
                        api_key_id=api_key_id,
                        duration_ms=round((time.perf_counter() - started) * 1000),
                        signed_at=now,
                    ),
                    timedelta(days=settings.retention_days),
                )
                record_event(
                    session,
                    client_id=client_id,
                    type=event_types.SIGNATURE_SIGNEE,
                    data=_signed_event_data(record),
                    callback_url=request.callback_url,
                    subject=ref,
                    now=now,
                )
                if claim is not None:
                    complete(session, claim, ref)
        except IntegrityError:
            if attempt == 0:
                logger.warning("signature.ref_collision", extra={"ref": ref})
                continue
            raise
        logger.info(
            "signature.signed",
            extra={"ref": ref, "level": request.level, "client_id": client_id},
        )
        return SignatureOutcome(record=record, signed_pdf=signed.pdf)
    raise AssertionError("unreachable")  # pragma: no cover


def _signed_event_data(record: SignatureRecord) -> dict[str, object]:
    return {
        "ref_signature": record.ref,
        "code_09": record.code_09,
        "niveau": record.level,
        "sha256_signe": record.sha256_signed,
        "ref_horodatage": record.ref_horodatage,
        "signe_le": record.signed_at.isoformat().replace("+00:00", "Z"),
        "id_requete": record.request_id,
    }


def _sign(
    runtime: Runtime,
    request: SystemSignatureRequest,
    signing_key: SigningKey,
    label: str,
    ref: str,
    trust: TrustMaterial | None,
) -> SignedPdf:
    try:
        return runtime.engine.sign(
            request.pdf,
            key=signing_key,
            reason=request.reason,
            signer_name=label,
            level=request.level,
            field_name=f"Sceau-{ref}",
            trust=trust,
        )
    except PdfRejected as exc:
        raise PdfUnsignable(exc.message, code=exc.code) from exc
    except Exception as exc:
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
