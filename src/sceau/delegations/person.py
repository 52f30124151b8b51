"""Delegations as their person meets them in the web signer: the ones
proposed to them, each read and then signed with a fresh TOTP code and the
person's own key, or refused with a reason; once in force, revoked at once
(a request racing the revocation either committed before it or is refused).

``presence`` (signing) and ``address`` (refusing, revoking) say where the
person was, for the audit trail; ``now`` may be frozen by tests.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.db import iso_utc, utcnow
from sceau.delegations.errors import (
    DelegationNotActive,
    DelegationNotFound,
    DocumentMismatch,
    InvalidRefusal,
)
from sceau.delegations.models import (
    STATUS_ACTIVE,
    STATUS_REFUSED,
    STATUS_REVOKED,
    STATUS_TO_SIGN,
    Delegation,
    DelegationDocument,
)
from sceau.delegations.states import (
    DelegationState,
    is_delegation_ref,
    leave_to_sign,
    require_to_sign,
    signed_pdf_of,
    state_of,
    states_of,
    tell_client,
)
from sceau.delegations.trail import record_in_trail
from sceau.events import types
from sceau.modes.human import (
    PersonalSignatureRequest,
    Presence,
    authentication_details,
    digest_if_shown,
    refusal_reason,
    sign_as_person,
)
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from sceau.signing.seal import SealPlacement

logger = logging.getLogger(__name__)

MAX_LIST = 200


def list_for_person(
    session: Session, person_id: str, now: datetime | None = None
) -> list[DelegationState]:
    """Every delegation proposed to the person, waiting ones first."""
    now = now or utcnow()
    query = (
        select(Delegation)
        .where(Delegation.person_id == person_id)
        .order_by(Delegation.created_at.desc(), Delegation.ref.desc())
        .limit(MAX_LIST)
    )
    found = states_of(session, session.scalars(query), now)
    return sorted(found, key=lambda state: state.status != STATUS_TO_SIGN)


def get_for_person(
    session: Session, person_id: str, ref: str, now: datetime | None = None
) -> DelegationState:
    delegation = session.get(Delegation, ref) if is_delegation_ref(ref) else None
    if delegation is None or delegation.person_id != person_id:
        raise DelegationNotFound(
            "Aucune délégation qui vous est proposée ne porte cette référence."
        )
    return state_of(session, delegation, now or utcnow())


def delegation_document(session: Session, delegation: Delegation) -> bytes:
    """The unsigned document as stored: what the person reads is what they
    sign."""
    return session.get_one(DelegationDocument, delegation.ref).pdf


def signed_pdf_for_person(session: Session, person_id: str, ref: str) -> bytes:
    return signed_pdf_of(session, get_for_person(session, person_id, ref).delegation)


def sign_delegation(
    runtime: Runtime,
    *,
    person_id: str,
    ref: str,
    totp_code: str,
    shown_sha256: str,
    request_id: str,
    now: datetime | None = None,
    presence: Presence | None = None,
) -> DelegationState:
    """Sign the delegation's document with the person's own key, after a
    fresh TOTP code; from then on it is ``active``. ``shown_sha256`` is that
    of the document the person was shown; ``presence`` (their address, their
    session's login) goes into the audit trail."""
    now = now or utcnow()
    started = time.perf_counter()
    with runtime.db.sessions() as session:
        state = get_for_person(session, person_id, ref, now)
        require_to_sign(state)
        pdf = delegation_document(session, state.delegation)
    delegation = state.delegation
    stored = digest_if_shown(shown_sha256, pdf)
    if stored is None:
        raise DocumentMismatch()
    presence = presence or Presence()

    def settle(session: Session, record: SignatureRecord) -> None:
        leave_to_sign(
            session,
            delegation,
            STATUS_ACTIVE,
            now,
            signature_ref=record.ref,
            signed_at=record.signed_at,
        )
        tell_client(
            session,
            delegation,
            types.DELEGATION_SIGNEE,
            {
                "statut": STATUS_ACTIVE,
                "ref_signature": record.ref,
                "sha256_signe": record.sha256_signed,
                "signee_le": iso_utc(record.signed_at),
            },
            now,
        )
        # The TOTP code was checked at ``now`` (``sign_as_person``'s clock).
        record_in_trail(
            session,
            actions.DELEGATION_SIGNEE,
            delegation,
            Actor.person(delegation.code_09, person_id, address=presence.address),
            record.signed_at,
            objects={"signature": record.ref},
            hashes={"document": stored, "signe": record.sha256_signed},
            details=authentication_details(presence, now) | {"sha256_affiche": stored},
            request_id=request_id,
        )

    sign_as_person(
        runtime,
        PersonalSignatureRequest(
            person_id=person_id,
            reason=f"Délégation de signature {ref} au système d'information de "
            f"{state.client_name}",
            pdf=pdf,
            level=runtime.settings.default_level,
            totp_code=totp_code,
            request_id=request_id,
            started=started,
            event_data={"ref_delegation": ref},
            seal=SealPlacement(page=-1, corner="bas_droite", box=None),
            presence=presence,
            audit_objects={"delegation": ref},
        ),
        within=settle,
        now=now,
    )
    logger.info("delegation.signed", extra={"ref": ref})
    with runtime.db.sessions() as session:
        return get_for_person(session, person_id, ref, now)


def refuse_delegation(
    session: Session,
    *,
    person_id: str,
    ref: str,
    reason: str,
    now: datetime | None = None,
    address: str | None = None,
) -> DelegationState:
    """The person declines the delegation, and says why; ``address`` is that
    of their request, for the audit trail."""
    now = now or utcnow()
    given = refusal_reason(reason)
    if given is None:
        raise InvalidRefusal()
    reason = given
    state = get_for_person(session, person_id, ref, now)
    require_to_sign(state)
    delegation = state.delegation
    leave_to_sign(
        session, delegation, STATUS_REFUSED, now, ended_at=now, refusal_reason=reason
    )
    tell_client(
        session,
        delegation,
        types.DELEGATION_REFUSEE,
        {"statut": STATUS_REFUSED, "motif_refus": reason, "refusee_le": iso_utc(now)},
        now,
    )
    record_in_trail(
        session,
        actions.DELEGATION_REFUSEE,
        delegation,
        Actor.person(delegation.code_09, person_id, address=address),
        now,
        details={"motif_refus": reason},
    )
    logger.info("delegation.refused", extra={"ref": ref})
    return state_of(session, delegation, now)


def revoke_delegation(
    session: Session,
    *,
    person_id: str,
    ref: str,
    now: datetime | None = None,
    address: str | None = None,
) -> DelegationState:
    """End an active delegation at once. The row is locked first, so that a
    signature under it either committed before or sees it revoked.
    ``address`` is that of the person's request, for the audit trail."""
    now = now or utcnow()
    state = get_for_person(session, person_id, ref, now)
    delegation = state.delegation
    if state.status != STATUS_ACTIVE:
        raise DelegationNotActive()
    revoked = session.execute(
        update(Delegation)
        .where(Delegation.ref == ref, Delegation.status == STATUS_ACTIVE)
        .values(status=STATUS_REVOKED, ended_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if revoked.rowcount != 1:  # type: ignore[attr-defined]
        raise DelegationNotActive()
    tell_client(
        session,
        delegation,
        types.DELEGATION_REVOQUEE,
        {"statut": STATUS_REVOKED, "revoquee_le": iso_utc(now)},
        now,
    )
    record_in_trail(
        session,
        actions.DELEGATION_REVOQUEE,
        delegation,
        Actor.person(delegation.code_09, person_id, address=address),
        now,
    )
    logger.info("delegation.revoked", extra={"ref": ref})
    return state_of(session, delegation, now)
