"""Delegations: a company officer allows a client's system to sign in their
name, inside an envelope they signed; requests outside it are refused.

For the client's API (``sceau.delegations.routes``):

- ``draft_delegation(runtime, *, client_id, code_09, envelope, request_id,
  actor, api_key_id=None, now=None) -> DelegationState``: the document
  is rendered, stored, and sent to the person to sign (``a_signer``);
- ``get_delegation(session, client_id, ref, now)``, ``list_delegations(session,
  client_id, *, status=None, code_09=None, now)``;
- ``signed_delegation_pdf(session, client_id, ref) -> bytes``;
- ``cancel_delegation(session, *, client_id, ref, actor, now=None)``: a draft
  withdrawn.

For the person's pages (``sceau.delegations.person``, imported here too):
``list_for_person``, ``get_for_person``,
``delegation_document``, ``sign_delegation`` (a fresh TOTP code, then the
person's own key), ``refuse_delegation``, ``revoke_delegation`` (effective at
once: a request racing the revocation either committed before it or is
refused).

For signing under a delegation (``sceau.delegations.use``, imported here
too; used by ``sceau.modes.delegated``): ``find_delegation``
before signing, ``take_use`` inside the storing transaction (the daily count,
under a lock on the delegation's row), ``record_refusal`` after a refusal.

Each step is also appended to the audit trail (``delegation.creee``,
``delegation.signee``, ``delegation.refus``…) in the transaction that makes it;
``actor`` is the client's system as it authenticated, ``presence`` (signing)
and ``address`` (refusing, revoking) say where the person was.

An ``active`` delegation past its last day reads as ``expiree`` everywhere,
without any sweep. Functions that take a session work in the caller's
transaction; ``now`` may be frozen by tests.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.catalogue.service import labels, lock_client, require_known
from sceau.clients.models import Client
from sceau.db import iso_utc, utcnow
from sceau.delegations.document import DelegationText, render_delegation
from sceau.delegations.envelope import Envelope, InvalidEnvelope
from sceau.delegations.errors import DelegationNotFound, DelegatorNotAllowed
from sceau.delegations.models import (
    STATUS_CANCELLED,
    STATUS_TO_SIGN,
    STATUSES,
    Delegation,
    DelegationDocument,
)
from sceau.delegations.person import (
    MAX_LIST,
    delegation_document,
    get_for_person,
    list_for_person,
    refuse_delegation,
    revoke_delegation,
    sign_delegation,
    signed_pdf_for_person,
)
from sceau.delegations.states import (
    DelegationState,
    effective_status,
    envelope_of,
    is_delegation_ref,
    leave_to_sign,
    signed_pdf_of,
    state_of,
    states_of,
    tell_client,
    tell_person,
)
from sceau.delegations.trail import record_in_trail
from sceau.delegations.use import (
    REFUSAL_NOTICE_INTERVAL,
    find_delegation,
    record_refusal,
    take_use,
)
from sceau.errors import Unprocessable
from sceau.events import types
from sceau.modes.human import MAX_REFUSAL_LENGTH
from sceau.people.service import person_of_client
from sceau.runtime import Runtime
from sceau.signing.service import REF_ALPHABET

logger = logging.getLogger(__name__)

DELEGATING_PROFESSIONS = ("dirigeant", "mandataire")


def new_delegation_ref(now: datetime) -> str:
    suffix = "".join(secrets.choice(REF_ALPHABET) for _ in range(6))
    return f"DLG-{now:%Y%m%d}-{suffix}"


class InvalidDelegationFilter(Unprocessable):
    code = "parametre_invalide"


# -- the client's side --------------------------------------------------------------


def draft_delegation(
    runtime: Runtime,
    *,
    client_id: str,
    code_09: str,
    envelope: Envelope,
    request_id: str,
    actor: Actor,
    api_key_id: str | None = None,
    now: datetime | None = None,
) -> DelegationState:
    """Render the delegation's document and store it with the delegation,
    tell the client (``delegation.creee``) and e-mail the person, in one
    transaction. Nothing takes effect until the person has signed it.
    ``actor`` is who asked, for the audit trail."""
    now = now or utcnow()
    if envelope.valid_until < envelope.local_day(now):
        raise InvalidEnvelope(
            "valide_au est déjà passé : une délégation doit pouvoir servir."
        )
    for attempt in range(2):
        ref = new_delegation_ref(now)
        try:
            with runtime.db.transaction() as session:
                person = person_of_client(
                    session, client_id, code_09, system_code_error=DelegatorNotAllowed()
                )
                if person.profession not in DELEGATING_PROFESSIONS:
                    raise DelegatorNotAllowed()
                # The catalogue's lock: a kind cannot leave it while a
                # delegation naming it is being drafted.
                lock_client(session, client_id)
                require_known(session, client_id, envelope.act_types)
                act_labels = labels(session, client_id)
                client = session.get_one(Client, client_id)
                pdf = render_delegation(
                    DelegationText(
                        ref=ref,
                        person_name=person.name,
                        person_code_09=person.code_09,
                        person_profession=person.profession,
                        client_name=client.name,
                        envelope=envelope,
                        act_type_labels=act_labels,
                        drafted_at=now,
                    )
                )
                delegation = Delegation(
                    ref=ref,
                    client_id=client_id,
                    person_id=person.id,
                    code_09=person.code_09,
                    status=STATUS_TO_SIGN,
                    act_types=",".join(envelope.act_types),
                    max_amount=envelope.max_amount,
                    amount_inclusive=envelope.amount_inclusive,
                    weekdays=",".join(str(day) for day in envelope.weekdays),
                    start_minute=envelope.start_minute,
                    end_minute=envelope.end_minute,
                    time_zone=envelope.time_zone,
                    valid_from=envelope.valid_from,
                    valid_until=envelope.valid_until,
                    daily_limit=envelope.daily_limit,
                    sha256_document=hashlib.sha256(pdf).hexdigest(),
                    created_at=now,
                    request_id=request_id,
                    api_key_id=api_key_id,
                )
                session.add(delegation)
                session.flush()
                session.add(DelegationDocument(ref=ref, pdf=pdf))
                state = state_of(session, delegation, now)
                tell_client(
                    session,
                    delegation,
                    types.DELEGATION_CREEE,
                    {"statut": STATUS_TO_SIGN, "cree_le": iso_utc(now)},
                    now,
                )
                tell_person(
                    session,
                    runtime.settings,
                    delegation,
                    person,
                    types.PERSONNE_DELEGATION_A_SIGNER,
                    {"enveloppe": state.description},
                    now,
                )
                record_in_trail(
                    session,
                    actions.DELEGATION_CREEE,
                    delegation,
                    actor,
                    now,
                    hashes={"document": delegation.sha256_document},
                    details={"enveloppe": state.description},
                    request_id=request_id,
                )
        except IntegrityError:
            if attempt == 0:
                logger.warning("delegation.ref_collision", extra={"ref": ref})
                continue
            raise
        logger.info("delegation.drafted", extra={"ref": ref, "client_id": client_id})
        return state
    raise AssertionError("unreachable")  # pragma: no cover


def get_delegation(
    session: Session, client_id: str, ref: str, now: datetime | None = None
) -> DelegationState:
    delegation = session.get(Delegation, ref) if is_delegation_ref(ref) else None
    if delegation is None or delegation.client_id != client_id:
        raise DelegationNotFound()
    return state_of(session, delegation, now or utcnow())


def list_delegations(
    session: Session,
    client_id: str,
    *,
    status: str | None = None,
    code_09: str | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> list[DelegationState]:
    """Newest first; ``status`` filters on the effective status."""
    now = now or utcnow()
    if status is not None and status not in STATUSES:
        raise InvalidDelegationFilter(
            f"statut inconnu : {status} ; valeurs admises : {', '.join(STATUSES)}."
        )
    query = select(Delegation).where(Delegation.client_id == client_id)
    if code_09 is not None:
        query = query.where(Delegation.code_09 == code_09.strip().upper())
    query = query.order_by(Delegation.created_at.desc(), Delegation.ref.desc())
    limit = max(1, min(limit, MAX_LIST))
    if status is None:
        query = query.limit(limit)
    found = states_of(session, session.scalars(query), now)
    if status is not None:
        # The effective status depends on the time: filtered after reading.
        found = [state for state in found if state.status == status]
    return found[:limit]


def signed_delegation_pdf(session: Session, client_id: str, ref: str) -> bytes:
    state = get_delegation(session, client_id, ref)
    return signed_pdf_of(session, state.delegation)


def cancel_delegation(
    session: Session,
    *,
    client_id: str,
    ref: str,
    actor: Actor,
    now: datetime | None = None,
) -> DelegationState:
    """Withdraw a delegation its person has not signed yet; ``actor`` is who
    withdrew it, for the audit trail."""
    now = now or utcnow()
    delegation = get_delegation(session, client_id, ref, now).delegation
    leave_to_sign(session, delegation, STATUS_CANCELLED, now, ended_at=now)
    record_in_trail(session, actions.DELEGATION_ANNULEE, delegation, actor, now)
    tell_client(
        session,
        delegation,
        types.DELEGATION_ANNULEE,
        {"statut": STATUS_CANCELLED, "annulee_le": iso_utc(now)},
        now,
    )
    logger.info("delegation.cancelled", extra={"ref": ref, "client_id": client_id})
    return state_of(session, delegation, now)


__all__ = [
    "DELEGATING_PROFESSIONS",
    "MAX_LIST",
    "MAX_REFUSAL_LENGTH",
    "REFUSAL_NOTICE_INTERVAL",
    "DelegationState",
    "cancel_delegation",
    "delegation_document",
    "draft_delegation",
    "effective_status",
    "envelope_of",
    "find_delegation",
    "get_delegation",
    "get_for_person",
    "is_delegation_ref",
    "list_delegations",
    "list_for_person",
    "new_delegation_ref",
    "record_refusal",
    "refuse_delegation",
    "revoke_delegation",
    "sign_delegation",
    "signed_delegation_pdf",
    "signed_pdf_for_person",
    "take_use",
]
