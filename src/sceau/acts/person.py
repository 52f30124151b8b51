"""Acts as their person meets them in the web signer (plain arguments, no
request object; ``now`` may be frozen by tests):

- ``list_waiting_for_person(session, person_id, now=None) -> list[ActState]``:
  what still waits for them, soonest expiry first;
- ``list_for_person(session, person_id, *, limit=100, now=None)
  -> list[ActState]``: every act addressed to them, newest first;
- ``get_act_for_person(session, person_id, ref, now=None) -> ActState``: an
  act addressed to someone else reads as unknown (``acte_inconnu``);
- ``act_document(session, act) -> bytes``: the stored bytes to show;
- ``sign_act(runtime, *, person_id, ref, totp_code, shown_sha256, request_id,
  now=None, presence=None) -> ActState``: a fresh TOTP code, then the
  person's own key;
- ``refuse_act(session, *, person_id, ref, reason, now=None, address=None)
  -> ActState``.

Each step is appended to the audit trail in the transaction that makes it;
``presence`` and ``address`` say where the person was. A failed ``sign_act``
stores nothing.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import cast

from sqlalchemy.orm import Session

from sceau.acts import notices
from sceau.acts.errors import ActNotFound, DocumentMismatch, InvalidRefusal
from sceau.acts.models import (
    STATUS_PENDING,
    STATUS_REFUSED,
    STATUS_SIGNED,
    Act,
    ActDocument,
)
from sceau.acts.states import (
    ActState,
    decide,
    find_state,
    require_pending,
    run_states,
    state_of,
    state_query,
    status_is,
)
from sceau.acts.trail import record_in_trail
from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.db import utcnow
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
from sceau.signing.engine import Level
from sceau.signing.models import SignatureRecord

logger = logging.getLogger(__name__)

MAX_LIST = 200


def list_waiting_for_person(
    session: Session, person_id: str, now: datetime | None = None
) -> list[ActState]:
    now = now or utcnow()
    query = (
        state_query()
        .where(Act.person_id == person_id, status_is(STATUS_PENDING, now))
        .order_by(Act.expires_at, Act.ref)
    )
    return run_states(session, query, now)


def list_for_person(
    session: Session,
    person_id: str,
    *,
    limit: int = 100,
    now: datetime | None = None,
) -> list[ActState]:
    query = (
        state_query()
        .where(Act.person_id == person_id)
        .order_by(Act.created_at.desc(), Act.ref.desc())
        .limit(max(1, min(limit, MAX_LIST)))
    )
    return run_states(session, query, now or utcnow())


def get_act_for_person(
    session: Session, person_id: str, ref: str, now: datetime | None = None
) -> ActState:
    """An act addressed to this person; any other reads as unknown."""
    state = find_state(session, ref, now or utcnow())
    if state is None or state.act.person_id != person_id:
        raise ActNotFound("Aucun acte qui vous est adressé ne porte cette référence.")
    return state


def act_document(session: Session, act: Act) -> bytes:
    """The document as stored: what the person reads is what they sign."""
    return session.get_one(ActDocument, act.ref).pdf


def sign_act(
    runtime: Runtime,
    *,
    person_id: str,
    ref: str,
    totp_code: str,
    shown_sha256: str,
    request_id: str,
    now: datetime | None = None,
    presence: Presence | None = None,
) -> ActState:
    """Sign the stored document with the person's own key, after a fresh TOTP
    code; ``shown_sha256`` is the SHA-256 of the document the person was
    shown, and must be that of the stored one. ``presence`` (their address,
    their session's login) goes into the audit trail.

    The act leaves ``en_attente`` by a conditional UPDATE in the transaction
    that stores the signature: of two confirmations at once, or a signature
    and a cancellation, one wins and the other stores nothing.
    """
    now = now or utcnow()
    started = time.perf_counter()
    with runtime.db.sessions() as session:
        state = get_act_for_person(session, person_id, ref, now)
        require_pending(state)
        pdf = act_document(session, state.act)
    act = state.act
    stored = digest_if_shown(shown_sha256, pdf)
    if stored is None:
        raise DocumentMismatch()
    presence = presence or Presence()

    def settle(session: Session, record: SignatureRecord) -> None:
        decide(session, act, STATUS_SIGNED, now, signature_ref=record.ref)
        # The TOTP code was checked at ``now`` (``sign_as_person``'s clock).
        record_in_trail(
            session,
            actions.ACTE_SIGNE,
            act,
            Actor.person(act.code_09, person_id, address=presence.address),
            record.signed_at,
            objects={"signature": record.ref},
            hashes={"source": stored, "signe": record.sha256_signed},
            details=authentication_details(presence, now) | {"sha256_affiche": stored},
            request_id=request_id,
        )
        notices.tell_client(
            session,
            act,
            types.ACTE_SIGNE,
            {
                "statut": STATUS_SIGNED,
                "ref_signature": record.ref,
                "niveau": record.level,
                "sha256_signe": record.sha256_signed,
                "ref_horodatage": record.ref_horodatage,
                "signe_le": notices.iso(record.signed_at),
            },
            now,
        )

    sign_as_person(
        runtime,
        PersonalSignatureRequest(
            person_id=person_id,
            reason=act.reason,
            pdf=pdf,
            level=cast(Level, act.level),
            totp_code=totp_code,
            request_id=request_id,
            started=started,
            callback_url=act.callback_url,
            event_data={"ref_acte": act.ref},
            act_type=act.act_type,
            amount=act.amount,
            matrix_version=act.matrix_version,
            presence=presence,
            audit_objects={"acte": act.ref},
        ),
        within=settle,
        now=now,
    )
    logger.info("act.signed", extra={"ref": ref, "client_id": act.client_id})
    with runtime.db.sessions() as session:
        return get_act_for_person(session, person_id, ref, now)


def refuse_act(
    session: Session,
    *,
    person_id: str,
    ref: str,
    reason: str,
    now: datetime | None = None,
    address: str | None = None,
) -> ActState:
    """The person declines to sign, and says why (``acte.refuse``);
    ``address`` is that of their request, for the audit trail."""
    now = now or utcnow()
    given = refusal_reason(reason)
    if given is None:
        raise InvalidRefusal()
    reason = given
    act = get_act_for_person(session, person_id, ref, now).act
    decide(session, act, STATUS_REFUSED, now, refusal_reason=reason)
    record_in_trail(
        session,
        actions.ACTE_REFUSE,
        act,
        Actor.person(act.code_09, person_id, address=address),
        now,
        details={"motif_refus": reason},
    )

    notices.tell_client(
        session,
        act,
        types.ACTE_REFUSE,
        {
            "statut": STATUS_REFUSED,
            "motif_refus": reason,
            "refuse_le": notices.iso(now),
        },
        now,
    )
    logger.info("act.refused", extra={"ref": ref, "client_id": act.client_id})
    return state_of(session, act, now)
