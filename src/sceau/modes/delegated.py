"""Mode *déléguée*: a client's system signs in the name of a person, with the
person's own key, inside the envelope of a delegation the person signed.

A request outside every envelope is refused (``hors_enveloppe``, with the
limit it crossed): nothing is signed, nothing stored but the refusal, and the
client and the person are told. The daily count is taken in the transaction
that stores the signature, under a lock on the delegation's row, so that two
requests for the last signature of a day cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record as record_audit
from sceau.db import utcnow
from sceau.delegations.errors import EnvelopeCrossed
from sceau.delegations.use import find_delegation, record_refusal, take_use
from sceau.idempotency.service import Claim
from sceau.identities.service import resolve_signing_identity
from sceau.modes.matrix import matrix_verdict, version_of, warning_of
from sceau.modes.names import MODE_DELEGATED
from sceau.modes.pipeline import (
    SignatureOutcome,
    SigningJob,
    check_document,
    sign_and_record,
)
from sceau.people.models import Person
from sceau.runtime import Runtime
from sceau.signing.engine import Level
from sceau.signing.models import SignatureRecord
from sceau.signing.seal import SealPlacement


@dataclass(frozen=True)
class DelegatedSignatureRequest:
    code_09: str
    signer_name: str
    reason: str
    pdf: bytes
    level: Level
    callback_url: str | None
    act_type: str
    amount: int
    seal: SealPlacement | None = None
    # More facts for the trail's entry (the matrix rule that chose the mode).
    audit_details: dict[str, object] = field(default_factory=dict)


def delegated_reason(reason: str, delegation_ref: str) -> str:
    return f"{reason} — signé sous la délégation {delegation_ref}"


def sign_under_delegation(
    runtime: Runtime,
    request: DelegatedSignatureRequest,
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
    """Check the envelope at the server's time, then sign with the person's
    key; on a refusal, record it and tell the client and the person.
    ``actor`` is who asked, for the audit trail."""
    check_document(runtime, request.pdf, request.callback_url)
    at = now or utcnow()
    with runtime.db.sessions() as session:
        identity = resolve_signing_identity(
            session,
            client_id=client_id,
            code_09=request.code_09,
            signer_name=request.signer_name,
            personal_allowed=True,
        )
        person_id = session.scalars(
            select(Person.id).where(Person.code_09 == identity.code_09)
        ).one()
        # The matrix first: a request it sends elsewhere is the client's
        # mistake, not a delegation's limit, and is not reported to the person.
        verdict = matrix_verdict(
            session,
            client_id,
            mode=MODE_DELEGATED,
            code_09=identity.code_09,
            act_type=request.act_type,
            amount=request.amount,
            now=at,
        )
    try:
        with runtime.db.sessions() as session:
            delegation, _ = find_delegation(
                session,
                client_id=client_id,
                person_id=person_id,
                act_type=request.act_type,
                amount=request.amount,
                at=at,
            )

        def count_use(session: Session, record: SignatureRecord) -> None:
            take_use(session, delegation.ref, at)
            record_audit(
                session,
                actions.DELEGATION_UTILISEE,
                actor=actor,
                subject=delegation.ref,
                objects={
                    "delegation": delegation.ref,
                    "signature": record.ref,
                    "identite": record.code_09,
                },
                details={"type_acte": request.act_type, "montant": request.amount},
                client_id=client_id,
                request_id=request_id or None,
                now=record.signed_at,
            )

        outcome = sign_and_record(
            runtime,
            SigningJob(
                client_id=client_id,
                identity=identity,
                mode=MODE_DELEGATED,
                reason=delegated_reason(request.reason, delegation.ref),
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
                delegation_ref=delegation.ref,
                matrix_version=version_of(verdict),
                client_state=client_state,
                actor=actor,
                audit_details=request.audit_details,
            ),
            within=count_use,
        )
        return replace(outcome, warning=warning_of(verdict))
    except EnvelopeCrossed as refused:
        record_refusal(
            runtime.db,
            runtime.settings,
            client_id=client_id,
            person_id=person_id,
            refused=refused,
            act_type=request.act_type,
            amount=request.amount,
            request_id=request_id,
            now=at,
            actor=actor,
        )
        raise


__all__ = [
    "MODE_DELEGATED",
    "DelegatedSignatureRequest",
    "sign_under_delegation",
]
