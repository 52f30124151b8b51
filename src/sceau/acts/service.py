"""Acts: a client's system prepares a document, the person it names signs it
(or refuses to) on the web signer; the API never signs an act itself.

For the client's API (``sceau.acts.routes``):

- ``create_act(runtime, NewAct, *, client_id, request_id, api_key_id=None,
  claim=None, now=None, actor=None) -> ActState``
- ``get_act(session, client_id, ref, now=None) -> ActState``
- ``list_acts(session, client_id, *, status=None, limit=50, before=None,
  now=None) -> list[ActState]``
- ``signed_act_pdf(session, client_id, ref) -> bytes``
- ``cancel_act(session, settings, *, client_id, ref, now=None, actor=None)
  -> ActState``

For the person's web pages (plain arguments, no request object; ``now`` may
be frozen by tests):

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

Each step is also appended to the audit trail (``acte.cree``, ``acte.signe``
…) in the transaction that makes it: ``actor`` is the client's system as it
authenticated, ``presence`` and ``address`` say where the person was.

``ActState`` (``sceau.acts.states``) is the act as read: ``status`` is the
effective one, ``client_name`` is who asked. An act waiting past ``expires_at``
reads as ``expire`` everywhere, before the sweeper (``sceau.acts.sweeper``)
records it. Functions that take a session work in the caller's transaction.

All errors are ``SceauError``s with a French ``code`` and ``message`` a page
can show: ``ActNotFound`` (``acte_inconnu``), ``ActAlreadyDecided``
(``acte_deja_traite``), ``ActExpired`` (``acte_expire``), ``DocumentMismatch``
(``document_different``), ``InvalidRefusal`` (``motif_refus_invalide``), and
from the signature itself those of ``sign_as_person`` (``code_totp_invalide``,
``code_totp_deja_utilise``, ``compte_verrouille``, ``personne_non_inscrite``,
``tsa_indisponible``…). A failed ``sign_act`` stores nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import and_, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sceau.acts import notices
from sceau.acts.errors import (
    ActNotFound,
    ActNotSigned,
    DocumentMismatch,
    InvalidExpiry,
    InvalidRefusal,
    SystemIdentityNotAllowed,
)
from sceau.acts.models import (
    STATUS_CANCELLED,
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
    reminders_due,
    require_pending,
    run_states,
    state_of,
    state_query,
    status_is,
)
from sceau.acts.trail import created_details, record_in_trail
from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.db import utcnow
from sceau.events import types
from sceau.idempotency.service import Claim, complete
from sceau.modes.human import (
    MODE_HUMAN,
    PersonalSignatureRequest,
    Presence,
    authentication_details,
    sign_as_person,
)
from sceau.modes.matrix import matrix_verdict, version_of
from sceau.modes.pipeline import check_document, client_actor
from sceau.people.models import Person
from sceau.people.service import person_of_client
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.engine import Level, PdfRejected, open_pdf
from sceau.signing.errors import PdfUnsignable
from sceau.signing.models import SignatureRecord
from sceau.signing.service import REF_ALPHABET, get_signed_pdf

logger = logging.getLogger(__name__)

MAX_REFUSAL_LENGTH = 500
MAX_LIST = 200


def new_act_ref(now: datetime) -> str:
    suffix = "".join(secrets.choice(REF_ALPHABET) for _ in range(6))
    return f"ACT-{now:%Y%m%d}-{suffix}"


@dataclass(frozen=True)
class NewAct:
    """What a client asks for; ``None`` takes the service's defaults."""

    code_09: str
    reason: str
    pdf: bytes
    level: Level | None = None
    callback_url: str | None = None
    expires_at: datetime | None = None
    act_type: str | None = None
    amount: int | None = None


# -- the client's side --------------------------------------------------------------


def create_act(
    runtime: Runtime,
    new: NewAct,
    *,
    client_id: str,
    request_id: str,
    api_key_id: str | None = None,
    claim: Claim | None = None,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> ActState:
    """Store the act with its document, tell the client (``acte.cree``) and
    e-mail the person, in one transaction: all of it, or nothing. ``actor``
    is who asked, for the audit trail (by default the client, by its key).

    A person who has not enrolled yet may be named: they can sign once they
    have, as long as the act has not expired.
    """
    now = now or utcnow()
    settings = runtime.settings
    check_document(runtime, new.pdf, new.callback_url)
    _check_pdf(new.pdf)
    expires_at = _checked_expiry(settings, new.expires_at, now)

    # As for signatures: on the rare reference collision, try a new one.
    for attempt in range(2):
        ref = new_act_ref(now)
        try:
            with runtime.db.transaction() as session:
                person = person_of_client(
                    session,
                    client_id,
                    new.code_09,
                    system_code_error=SystemIdentityNotAllowed(),
                )
                verdict = matrix_verdict(
                    session,
                    client_id,
                    mode=MODE_HUMAN,
                    code_09=person.code_09,
                    act_type=new.act_type,
                    amount=new.amount,
                    now=now,
                )
                act = Act(
                    ref=ref,
                    client_id=client_id,
                    person_id=person.id,
                    code_09=person.code_09,
                    signer_name=person.name,
                    reason=new.reason,
                    level=new.level or settings.default_level,
                    sha256_source=hashlib.sha256(new.pdf).hexdigest(),
                    size_source=len(new.pdf),
                    callback_url=new.callback_url,
                    status=STATUS_PENDING,
                    created_at=now,
                    expires_at=expires_at,
                    reminders_sent=reminders_due(settings, expires_at, now),
                    request_id=request_id,
                    api_key_id=api_key_id,
                    act_type=new.act_type,
                    amount=new.amount,
                    matrix_version=version_of(verdict),
                )
                session.add(act)
                session.flush()
                session.add(ActDocument(ref=ref, pdf=new.pdf))
                notices.tell_client(
                    session, act, types.ACTE_CREE, _created_data(act), now
                )
                notices.tell_person(
                    session, settings, act, person, types.PERSONNE_ACTE_A_SIGNER, now
                )
                record_in_trail(
                    session,
                    actions.ACTE_CREE,
                    act,
                    actor or client_actor(client_id, api_key_id),
                    now,
                    hashes={"source": act.sha256_source},
                    details=created_details(act),
                    request_id=request_id,
                )
                if claim is not None:
                    complete(session, claim, ref)
                state = state_of(session, act, now)
        except IntegrityError:
            if attempt == 0:
                logger.warning("act.ref_collision", extra={"ref": ref})
                continue
            raise
        logger.info("act.created", extra={"ref": ref, "client_id": client_id})
        return state
    raise AssertionError("unreachable")  # pragma: no cover


def get_act(
    session: Session, client_id: str, ref: str, now: datetime | None = None
) -> ActState:
    """The client's own act; another client's reference reads as unknown."""
    state = find_state(session, ref, now or utcnow())
    if state is None or state.act.client_id != client_id:
        raise ActNotFound()
    return state


def list_acts(
    session: Session,
    client_id: str,
    *,
    status: str | None = None,
    limit: int = 50,
    before: str | None = None,
    now: datetime | None = None,
) -> list[ActState]:
    """Newest first; ``before`` (a reference of the previous page's last act)
    continues the listing from there."""
    now = now or utcnow()
    query = state_query().where(Act.client_id == client_id)
    if status is not None:
        query = query.where(status_is(status, now))
    if before is not None:
        after = get_act(session, client_id, before, now).act
        query = query.where(
            or_(
                Act.created_at < after.created_at,
                and_(Act.created_at == after.created_at, Act.ref < after.ref),
            )
        )
    query = query.order_by(Act.created_at.desc(), Act.ref.desc()).limit(
        max(1, min(limit, MAX_LIST))
    )
    return run_states(session, query, now)


def signed_act_pdf(session: Session, client_id: str, ref: str) -> bytes:
    state = get_act(session, client_id, ref)
    if state.signature is None:
        raise ActNotSigned()
    return get_signed_pdf(session, state.signature)


def cancel_act(
    session: Session,
    settings: Settings,
    *,
    client_id: str,
    ref: str,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> ActState:
    """Withdraw an act still waiting (``acte.annule``); the person is told
    by a short e-mail, so that they do not look for it in vain. ``actor`` is
    who withdrew it, for the audit trail."""
    now = now or utcnow()
    act = get_act(session, client_id, ref, now).act
    decide(session, act, STATUS_CANCELLED, now)
    record_in_trail(
        session, actions.ACTE_ANNULE, act, actor or client_actor(client_id), now
    )

    notices.tell_client(
        session,
        act,
        types.ACTE_ANNULE,
        {"statut": STATUS_CANCELLED, "annule_le": notices.iso(now)},
        now,
    )
    person = session.get_one(Person, act.person_id)
    notices.tell_person(session, settings, act, person, types.PERSONNE_ACTE_ANNULE, now)
    logger.info("act.cancelled", extra={"ref": ref, "client_id": client_id})
    return state_of(session, act, now)


# -- the person's side ---------------------------------------------------------------


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
    stored = hashlib.sha256(pdf).hexdigest()
    if not hmac.compare_digest(shown_sha256.strip().lower().encode(), stored.encode()):
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
    reason = reason.strip()
    if not reason or len(reason) > MAX_REFUSAL_LENGTH or "\x00" in reason:
        raise InvalidRefusal()
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


# -- shared steps ---------------------------------------------------------------------


def _check_pdf(pdf: bytes) -> None:
    # The document is signed later, by the person: what could not be signed
    # is refused now, with the codes the signing route uses.
    try:
        open_pdf(pdf)
    except PdfRejected as exc:
        raise PdfUnsignable(exc.message, code=exc.code) from exc


def _checked_expiry(
    settings: Settings, requested: datetime | None, now: datetime
) -> datetime:
    latest = now + timedelta(days=settings.act_max_days)
    if requested is None:
        return now + timedelta(days=settings.act_default_days)
    if requested.tzinfo is None:
        raise InvalidExpiry(
            "expire_le doit porter son décalage horaire (par exemple "
            "2026-06-01T18:00:00+00:00 ou …Z)."
        )
    if requested <= now:
        raise InvalidExpiry("expire_le est déjà passé : choisissez une date à venir.")
    if requested > latest:
        raise InvalidExpiry(
            f"expire_le est trop lointain : au plus {settings.act_max_days:g} jours "
            "après la création de l'acte."
        )
    return requested


def _created_data(act: Act) -> dict[str, object]:
    return {
        "statut": STATUS_PENDING,
        "nom_signataire": act.signer_name,
        "motif": act.reason,
        "niveau": act.level,
        "sha256": act.sha256_source,
        "cree_le": notices.iso(act.created_at),
        "expire_le": notices.iso(act.expires_at),
        "id_requete": act.request_id,
    }
