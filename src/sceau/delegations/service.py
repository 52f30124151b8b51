"""Delegations: a company officer allows a client's system to sign in their
name, inside an envelope they signed; requests outside it are refused.

For the client's API (``sceau.delegations.routes``):

- ``draft_delegation(runtime, *, client_id, code_09, envelope, request_id,
  api_key_id=None, now=None, actor=None) -> DelegationState``: the document
  is rendered, stored, and sent to the person to sign (``a_signer``);
- ``get_delegation(session, client_id, ref, now)``, ``list_delegations(session,
  client_id, *, status=None, code_09=None, now)``;
- ``signed_delegation_pdf(session, client_id, ref) -> bytes``;
- ``cancel_delegation(session, *, client_id, ref, now, actor=None)``: a draft
  withdrawn.

For the person's pages: ``list_for_person``, ``get_for_person``,
``delegation_document``, ``sign_delegation`` (a fresh TOTP code, then the
person's own key), ``refuse_delegation``, ``revoke_delegation`` (effective at
once: a request racing the revocation either committed before it or is
refused).

For signing under a delegation (``sceau.modes.delegated``): ``find_delegation``
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
import hmac
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record as record_audit
from sceau.catalogue.service import labels, lock_client, require_known
from sceau.clients.models import Client
from sceau.db import Database, iso_utc, utcnow
from sceau.delegations.document import DelegationText, render_delegation
from sceau.delegations.envelope import (
    LIMIT_VALIDITY,
    Crossing,
    Envelope,
    InvalidEnvelope,
    check,
    daily_limit_crossing,
    describe,
    format_amount,
    no_delegation_crossing,
)
from sceau.delegations.errors import (
    DelegationNotActive,
    DelegationNotFound,
    DelegationNotPending,
    DelegationNotSigned,
    DelegatorNotAllowed,
    DocumentMismatch,
    EnvelopeCrossed,
    InvalidRefusal,
)
from sceau.delegations.models import (
    STATUS_ACTIVE,
    STATUS_CANCELLED,
    STATUS_EXPIRED,
    STATUS_REFUSED,
    STATUS_REVOKED,
    STATUS_TO_SIGN,
    STATUSES,
    Delegation,
    DelegationDailyUse,
    DelegationDocument,
    DelegationRefusal,
)
from sceau.errors import Unprocessable
from sceau.events import types
from sceau.events.service import queue_email, record_event
from sceau.modes.human import (
    PersonalSignatureRequest,
    Presence,
    authentication_details,
    sign_as_person,
)
from sceau.modes.pipeline import client_actor
from sceau.people.models import Person
from sceau.people.service import person_of_client
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.models import SignatureRecord
from sceau.signing.seal import SealPlacement
from sceau.signing.service import REF_ALPHABET, get_signed_pdf

logger = logging.getLogger(__name__)

DELEGATING_PROFESSIONS = ("dirigeant", "mandataire")
MAX_REFUSAL_LENGTH = 500
MAX_LIST = 200
# A person hears of refused requests by e-mail at most once an hour per
# client, however many are refused; every refusal still reaches the client.
REFUSAL_NOTICE_INTERVAL = timedelta(hours=1)


def new_delegation_ref(now: datetime) -> str:
    suffix = "".join(secrets.choice(REF_ALPHABET) for _ in range(6))
    return f"DLG-{now:%Y%m%d}-{suffix}"


def is_delegation_ref(ref: str) -> bool:
    return (
        len(ref) == 19
        and ref.startswith("DLG-")
        and ref[4:12].isdigit()
        and ref[12] == "-"
        and all(c in REF_ALPHABET for c in ref[13:])
    )


@dataclass(frozen=True)
class DelegationState:
    """A delegation as its client or its person sees it."""

    delegation: Delegation
    # Effective: an active or unsigned delegation past its last day reads
    # ``expiree``.
    status: str
    envelope: Envelope
    client_name: str
    person_name: str
    act_type_labels: dict[str, str]

    @property
    def description(self) -> list[str]:
        return describe(self.envelope, self.act_type_labels)


class InvalidDelegationFilter(Unprocessable):
    code = "parametre_invalide"


def envelope_of(delegation: Delegation) -> Envelope:
    return Envelope(
        act_types=tuple(delegation.act_types.split(",")),
        max_amount=delegation.max_amount,
        amount_inclusive=delegation.amount_inclusive,
        weekdays=tuple(int(day) for day in delegation.weekdays.split(",")),
        start_minute=delegation.start_minute,
        end_minute=delegation.end_minute,
        time_zone=delegation.time_zone,
        valid_from=delegation.valid_from,
        valid_until=delegation.valid_until,
        daily_limit=delegation.daily_limit,
    )


def effective_status(delegation: Delegation, now: datetime) -> str:
    if delegation.status in (STATUS_ACTIVE, STATUS_TO_SIGN) and (
        now >= envelope_of(delegation).ends_at()
    ):
        return STATUS_EXPIRED
    return delegation.status


# -- the client's side --------------------------------------------------------------


def draft_delegation(
    runtime: Runtime,
    *,
    client_id: str,
    code_09: str,
    envelope: Envelope,
    request_id: str,
    api_key_id: str | None = None,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> DelegationState:
    """Render the delegation's document and store it with the delegation,
    tell the client (``delegation.creee``) and e-mail the person, in one
    transaction. Nothing takes effect until the person has signed it.
    ``actor`` is who asked, for the audit trail (by default the client)."""
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
                state = _state(session, delegation, now)
                _tell_client(
                    session,
                    delegation,
                    types.DELEGATION_CREEE,
                    {"statut": STATUS_TO_SIGN, "cree_le": iso_utc(now)},
                    now,
                )
                _tell_person(
                    session,
                    runtime.settings,
                    delegation,
                    person,
                    types.PERSONNE_DELEGATION_A_SIGNER,
                    {"enveloppe": state.description},
                    now,
                )
                _record(
                    session,
                    actions.DELEGATION_CREEE,
                    delegation,
                    actor or client_actor(client_id, api_key_id),
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
    return _state(session, delegation, now or utcnow())


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
    found = _states(session, session.scalars(query), now)
    if status is not None:
        # The effective status depends on the time: filtered after reading.
        found = [state for state in found if state.status == status]
    return found[:limit]


def signed_delegation_pdf(session: Session, client_id: str, ref: str) -> bytes:
    state = get_delegation(session, client_id, ref)
    return _signed_pdf(session, state.delegation)


def cancel_delegation(
    session: Session,
    *,
    client_id: str,
    ref: str,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> DelegationState:
    """Withdraw a delegation its person has not signed yet; ``actor`` is who
    withdrew it, for the audit trail."""
    now = now or utcnow()
    delegation = get_delegation(session, client_id, ref, now).delegation
    _leave_to_sign(session, delegation, STATUS_CANCELLED, now, ended_at=now)
    _record(
        session,
        actions.DELEGATION_ANNULEE,
        delegation,
        actor or client_actor(client_id),
        now,
    )
    _tell_client(
        session,
        delegation,
        types.DELEGATION_ANNULEE,
        {"statut": STATUS_CANCELLED, "annulee_le": iso_utc(now)},
        now,
    )
    logger.info("delegation.cancelled", extra={"ref": ref, "client_id": client_id})
    return _state(session, delegation, now)


# -- the person's side ---------------------------------------------------------------


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
    found = _states(session, session.scalars(query), now)
    return sorted(found, key=lambda state: state.status != STATUS_TO_SIGN)


def get_for_person(
    session: Session, person_id: str, ref: str, now: datetime | None = None
) -> DelegationState:
    delegation = session.get(Delegation, ref) if is_delegation_ref(ref) else None
    if delegation is None or delegation.person_id != person_id:
        raise DelegationNotFound(
            "Aucune délégation qui vous est proposée ne porte cette référence."
        )
    return _state(session, delegation, now or utcnow())


def delegation_document(session: Session, delegation: Delegation) -> bytes:
    """The unsigned document as stored: what the person reads is what they
    sign."""
    return session.get_one(DelegationDocument, delegation.ref).pdf


def signed_pdf_for_person(session: Session, person_id: str, ref: str) -> bytes:
    return _signed_pdf(session, get_for_person(session, person_id, ref).delegation)


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
        _require_to_sign(state)
        pdf = delegation_document(session, state.delegation)
    delegation = state.delegation
    stored = hashlib.sha256(pdf).hexdigest()
    if not hmac.compare_digest(shown_sha256.strip().lower().encode(), stored.encode()):
        raise DocumentMismatch()
    presence = presence or Presence()

    def settle(session: Session, record: SignatureRecord) -> None:
        _leave_to_sign(
            session,
            delegation,
            STATUS_ACTIVE,
            now,
            signature_ref=record.ref,
            signed_at=record.signed_at,
        )
        _tell_client(
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
        _record(
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
    reason = reason.strip()
    if not reason or len(reason) > MAX_REFUSAL_LENGTH or "\x00" in reason:
        raise InvalidRefusal()
    state = get_for_person(session, person_id, ref, now)
    _require_to_sign(state)
    delegation = state.delegation
    _leave_to_sign(
        session, delegation, STATUS_REFUSED, now, ended_at=now, refusal_reason=reason
    )
    _tell_client(
        session,
        delegation,
        types.DELEGATION_REFUSEE,
        {"statut": STATUS_REFUSED, "motif_refus": reason, "refusee_le": iso_utc(now)},
        now,
    )
    _record(
        session,
        actions.DELEGATION_REFUSEE,
        delegation,
        Actor.person(delegation.code_09, person_id, address=address),
        now,
        details={"motif_refus": reason},
    )
    logger.info("delegation.refused", extra={"ref": ref})
    return _state(session, delegation, now)


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
    _tell_client(
        session,
        delegation,
        types.DELEGATION_REVOQUEE,
        {"statut": STATUS_REVOKED, "revoquee_le": iso_utc(now)},
        now,
    )
    _record(
        session,
        actions.DELEGATION_REVOQUEE,
        delegation,
        Actor.person(delegation.code_09, person_id, address=address),
        now,
    )
    logger.info("delegation.revoked", extra={"ref": ref})
    return _state(session, delegation, now)


# -- signing under a delegation --------------------------------------------------------


def find_delegation(
    session: Session,
    *,
    client_id: str,
    person_id: str,
    act_type: str,
    amount: int,
    at: datetime,
) -> tuple[Delegation, Envelope]:
    """The person's delegation to this client whose envelope holds the
    request at ``at``; the most recently signed one is tried first, and its
    crossing is the one reported when none holds it."""
    delegations = session.scalars(
        select(Delegation)
        .where(
            Delegation.person_id == person_id,
            Delegation.client_id == client_id,
            Delegation.status == STATUS_ACTIVE,
        )
        .order_by(Delegation.signed_at.desc(), Delegation.ref)
    ).all()
    if not delegations:
        raise EnvelopeCrossed(no_delegation_crossing(), None)
    first: tuple[Crossing, str] | None = None
    for delegation in delegations:
        envelope = envelope_of(delegation)
        crossing = check(envelope, act_type=act_type, amount=amount, at=at)
        if crossing is None and envelope.daily_limit is not None:
            crossing = daily_limit_crossing(
                envelope, _used_on(session, delegation.ref, envelope.local_day(at))
            )
        if crossing is None:
            return delegation, envelope
        first = first or (crossing, delegation.ref)
    assert first is not None
    raise EnvelopeCrossed(*first)


def take_use(session: Session, ref: str, at: datetime) -> None:
    """Count one signature on the delegation's local day, in the storing
    transaction: the delegation's row is locked, so that of two requests for
    the last signature of a day one is refused, and a revocation is seen."""
    delegation = session.scalars(
        select(Delegation).where(Delegation.ref == ref).with_for_update(key_share=True)
    ).one()
    session.refresh(delegation)
    if delegation.status != STATUS_ACTIVE:
        raise EnvelopeCrossed(
            Crossing(
                LIMIT_VALIDITY,
                f"La délégation {ref} a pris fin pendant le traitement de la "
                "demande : rien n'a été signé.",
            ),
            ref,
        )
    envelope = envelope_of(delegation)
    day = envelope.local_day(at)
    use = session.get(DelegationDailyUse, (ref, day))
    if use is None:
        use = DelegationDailyUse(delegation_ref=ref, day=day, count=0)
        session.add(use)
    if envelope.daily_limit is not None:
        crossing = daily_limit_crossing(envelope, use.count)
        if crossing is not None:
            raise EnvelopeCrossed(crossing, ref)
    use.count += 1
    session.flush()


def record_refusal(
    db: Database,
    settings: Settings,
    *,
    client_id: str,
    person_id: str,
    refused: EnvelopeCrossed,
    act_type: str,
    amount: int,
    request_id: str,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> None:
    """Keep the refusal, tell the client (``delegation.refus``) and, at most
    once per ``REFUSAL_NOTICE_INTERVAL``, the person by e-mail; ``actor``
    (who asked) goes into the audit trail with it."""
    now = now or utcnow()
    with db.transaction() as session:
        # Locked, so that two refusals at once do not both e-mail the person.
        person = session.scalars(
            select(Person).where(Person.id == person_id).with_for_update(key_share=True)
        ).one()
        recent = session.scalar(
            select(func.count())
            .select_from(DelegationRefusal)
            .where(
                DelegationRefusal.person_id == person_id,
                DelegationRefusal.client_id == client_id,
                DelegationRefusal.person_notified.is_(True),
                DelegationRefusal.at > now - REFUSAL_NOTICE_INTERVAL,
            )
        )
        notify = not recent
        session.add(
            DelegationRefusal(
                client_id=client_id,
                person_id=person_id,
                delegation_ref=refused.delegation_ref,
                limit=refused.crossing.limit,
                act_type=act_type,
                amount=amount,
                request_id=request_id,
                person_notified=notify,
                at=now,
            )
        )
        data: dict[str, Any] = {
            "code_09": person.code_09,
            "ref_delegation": refused.delegation_ref,
            "limite": refused.crossing.limit,
            "message": refused.crossing.message,
            "type_acte": act_type,
            "montant": amount,
            "id_requete": request_id,
            "refuse_le": iso_utc(now),
        }
        record_event(
            session,
            client_id=client_id,
            type=types.DELEGATION_REFUS,
            data=data,
            subject=refused.delegation_ref or person.code_09,
            now=now,
        )
        record_audit(
            session,
            actions.DELEGATION_REFUS,
            actor=actor or client_actor(client_id),
            subject=refused.delegation_ref or person.code_09,
            objects={"delegation": refused.delegation_ref, "identite": person.code_09},
            details={
                "limite": refused.crossing.limit,
                "message": refused.crossing.message,
                "type_acte": act_type,
                "montant": amount,
            },
            client_id=client_id,
            request_id=request_id or None,
            now=now,
        )
        if notify:
            event = record_event(
                session,
                client_id=client_id,
                type=types.PERSONNE_DELEGATION_REFUS,
                data={
                    "nom": person.name,
                    "ref_delegation": refused.delegation_ref,
                    "raison": refused.crossing.message,
                    "type_acte": act_type,
                    "montant_affiche": format_amount(amount),
                    "refuse_le_affiche": now.strftime("%d/%m/%Y à %H:%M:%S UTC"),
                    "lien": f"{settings.public_base_url}/signer/delegations",
                },
                subject=refused.delegation_ref or person.code_09,
                webhooks=False,
                now=now,
            )
            queue_email(session, event, person.email, now=now)
    logger.info(
        "delegation.request_refused",
        extra={
            "client_id": client_id,
            "ref": refused.delegation_ref,
            "limit": refused.crossing.limit,
        },
    )


# -- shared steps ---------------------------------------------------------------------


def _state(session: Session, delegation: Delegation, now: datetime) -> DelegationState:
    [state] = _states(session, [delegation], now)
    return state


def _states(
    session: Session, delegations: Iterable[Delegation], now: datetime
) -> list[DelegationState]:
    """Each delegation with its client's name and catalogue and its person's
    name, each read once however many delegations share them."""
    client_names: dict[str, str] = {}
    catalogues: dict[str, dict[str, str]] = {}
    person_names: dict[str, str] = {}
    states = []
    for delegation in delegations:
        client_id, person_id = delegation.client_id, delegation.person_id
        if client_id not in client_names:
            client_names[client_id] = session.get_one(Client, client_id).name
            catalogues[client_id] = labels(session, client_id)
        if person_id not in person_names:
            person_names[person_id] = session.get_one(Person, person_id).name
        states.append(
            DelegationState(
                delegation=delegation,
                status=effective_status(delegation, now),
                envelope=envelope_of(delegation),
                client_name=client_names[client_id],
                person_name=person_names[person_id],
                act_type_labels=catalogues[client_id],
            )
        )
    return states


def _used_on(session: Session, ref: str, day: Any) -> int:
    use = session.get(DelegationDailyUse, (ref, day))
    return 0 if use is None else use.count


def _signed_pdf(session: Session, delegation: Delegation) -> bytes:
    if delegation.signature_ref is None:
        raise DelegationNotSigned()
    return get_signed_pdf(
        session, session.get_one(SignatureRecord, delegation.signature_ref)
    )


_NOT_TO_SIGN = {
    STATUS_ACTIVE: "Cette délégation est déjà signée.",
    STATUS_REFUSED: "Cette délégation a été refusée.",
    STATUS_CANCELLED: "Cette délégation a été annulée par le client.",
    STATUS_REVOKED: "Cette délégation a été révoquée.",
    STATUS_EXPIRED: "Cette délégation a dépassé son dernier jour de validité.",
}


def _require_to_sign(state: DelegationState) -> None:
    if state.status != STATUS_TO_SIGN:
        raise DelegationNotPending(_NOT_TO_SIGN.get(state.status))


def _leave_to_sign(
    session: Session,
    delegation: Delegation,
    status: str,
    now: datetime,
    **values: object,
) -> None:
    """Take the delegation out of ``a_signer`` once, or say why it was."""
    if effective_status(delegation, now) == STATUS_EXPIRED:
        raise DelegationNotPending(_NOT_TO_SIGN[STATUS_EXPIRED])
    left = session.execute(
        update(Delegation)
        .where(Delegation.ref == delegation.ref, Delegation.status == STATUS_TO_SIGN)
        .values(status=status, **values)
        .execution_options(synchronize_session="fetch")
    )
    if left.rowcount != 1:  # type: ignore[attr-defined]
        current = session.scalar(
            select(Delegation.status).where(Delegation.ref == delegation.ref)
        )
        raise DelegationNotPending(_NOT_TO_SIGN.get(current or ""))


def _record(
    session: Session,
    action: str,
    delegation: Delegation,
    actor: Actor,
    now: datetime,
    *,
    objects: dict[str, str] | None = None,
    hashes: dict[str, str] | None = None,
    details: dict[str, object] | None = None,
    request_id: str | None = None,
) -> None:
    """One step of the delegation's story in the audit trail, in the
    caller's transaction."""
    record_audit(
        session,
        action,
        actor=actor,
        subject=delegation.ref,
        objects={"delegation": delegation.ref, "identite": delegation.code_09}
        | (objects or {}),
        hashes=hashes or {},
        details=details or {},
        client_id=delegation.client_id,
        request_id=request_id or None,
        now=now,
    )


def _tell_client(
    session: Session,
    delegation: Delegation,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> None:
    record_event(
        session,
        client_id=delegation.client_id,
        type=event_type,
        data={"ref_delegation": delegation.ref, "code_09": delegation.code_09} | data,
        subject=delegation.ref,
        now=now,
    )


def _tell_person(
    session: Session,
    settings: Settings,
    delegation: Delegation,
    person: Person,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> None:
    event = record_event(
        session,
        client_id=delegation.client_id,
        type=event_type,
        data={
            "nom": person.name,
            "ref_delegation": delegation.ref,
            "lien": f"{settings.public_base_url}/signer/delegations/{delegation.ref}",
        }
        | data,
        subject=delegation.ref,
        webhooks=False,
        now=now,
    )
    queue_email(session, event, person.email, now=now)


__all__ = [
    "DELEGATING_PROFESSIONS",
    "DelegationState",
    "cancel_delegation",
    "delegation_document",
    "draft_delegation",
    "envelope_of",
    "find_delegation",
    "get_delegation",
    "get_for_person",
    "list_delegations",
    "list_for_person",
    "record_refusal",
    "refuse_delegation",
    "revoke_delegation",
    "sign_delegation",
    "signed_delegation_pdf",
    "signed_pdf_for_person",
    "take_use",
]
