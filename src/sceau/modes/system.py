"""Mode *système*: a document signed in the name of the client's own system
identity (``09S-…``), in one pass from the request to the stored record."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sceau.audit.actors import Actor
from sceau.idempotency.service import Claim
from sceau.identities.service import resolve_signing_identity
from sceau.modes.matrix import matrix_verdict, version_of, warning_of
from sceau.modes.names import MODE_SYSTEM
from sceau.modes.pipeline import (
    SignatureOutcome,
    SigningJob,
    check_document,
    sign_and_record,
)
from sceau.runtime import Runtime
from sceau.signing.engine import Level
from sceau.signing.seal import SealPlacement

__all__ = [
    "MODE_SYSTEM",
    "SignatureOutcome",
    "SystemSignatureRequest",
    "sign_in_system_mode",
]


@dataclass(frozen=True)
class SystemSignatureRequest:
    code_09: str
    signer_name: str
    reason: str
    pdf: bytes
    level: Level
    callback_url: str | None
    seal: SealPlacement | None = None
    act_type: str | None = None
    amount: int | None = None
    # More facts for the trail's entry (the matrix rule that chose the mode).
    audit_details: dict[str, object] = field(default_factory=dict)


def sign_in_system_mode(
    runtime: Runtime,
    request: SystemSignatureRequest,
    *,
    client_id: str,
    api_key_id: str | None,
    request_id: str,
    started: float,
    claim: Claim | None = None,
    now: datetime | None = None,
    client_state: str | None = None,
    actor: Actor,
) -> SignatureOutcome:
    """Check, sign, and record; nothing is stored unless all of it succeeds.
    A client with an authority matrix is held to it (``now`` dates the
    check); ``actor`` is who asked, for the audit trail."""
    # Size and callback first: a refusal that needs no database read.
    check_document(runtime, request.pdf, request.callback_url)
    with runtime.db.sessions() as session:
        identity = resolve_signing_identity(
            session,
            client_id=client_id,
            code_09=request.code_09,
            signer_name=request.signer_name,
        )
        verdict = matrix_verdict(
            session,
            client_id,
            mode=MODE_SYSTEM,
            code_09=identity.code_09,
            act_type=request.act_type,
            amount=request.amount,
            now=now,
        )
    outcome = sign_and_record(
        runtime,
        SigningJob(
            client_id=client_id,
            identity=identity,
            mode=MODE_SYSTEM,
            reason=request.reason,
            pdf=request.pdf,
            level=request.level,
            request_id=request_id,
            started=started,
            callback_url=request.callback_url,
            api_key_id=api_key_id,
            claim=claim,
            seal=request.seal,
            act_type=request.act_type,
            amount=request.amount,
            matrix_version=version_of(verdict),
            client_state=client_state,
            actor=actor,
            audit_details=request.audit_details,
        ),
    )
    return replace(outcome, warning=warning_of(verdict))
