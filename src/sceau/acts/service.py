"""Acts: a client's system prepares a document, the person it names signs it
(or refuses to) on the web signer; the API never signs an act itself.

For the client's API (``sceau.acts.routes``):

- ``create_act(runtime, NewAct, *, client_id, request_id, actor,
  api_key_id=None, claim=None, now=None) -> ActState``
- ``get_act(session, client_id, ref, now=None) -> ActState``
- ``list_acts(session, client_id, *, status=None, limit=50, before=None,
  now=None) -> list[ActState]``
- ``signed_act_pdf(session, client_id, ref) -> bytes``
- ``cancel_act(session, settings, *, client_id, ref, actor, now=None)
  -> ActState``

For the person's web pages, ``sceau.acts.person`` (imported here too):
``list_waiting_for_person``, ``list_for_person``, ``get_act_for_person``,
``act_document``, ``sign_act``, ``refuse_act``.

Each step is also appended to the audit trail (``acte.cree``, ``acte.signe``
…) in the transaction that makes it: ``actor`` is the client's system as it
authenticated (required: the trail never guesses who asked), ``presence``
and ``address`` say where the person was.

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
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sceau.acts import notices
from sceau.acts.errors import (
    ActNotFound,
    ActNotSigned,
    InvalidExpiry,
    SystemIdentityNotAllowed,
)
from sceau.acts.models import STATUS_CANCELLED, STATUS_PENDING, Act, ActDocument

# The person's side, importable from here as before the split.
from sceau.acts.person import (
    MAX_LIST,
    act_document,
    get_act_for_person,
    list_for_person,
    list_waiting_for_person,
    refuse_act,
    sign_act,
)
from sceau.acts.states import (
    ActState,
    decide,
    find_state,
    reminders_due,
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
from sceau.modes.human import MAX_REFUSAL_LENGTH, MODE_HUMAN
from sceau.modes.matrix import matrix_verdict, version_of
from sceau.modes.pipeline import check_document
from sceau.people.models import Person
from sceau.people.service import person_of_client
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.engine import Level, PdfRejected, open_pdf
from sceau.signing.errors import PdfUnsignable
from sceau.signing.service import REF_ALPHABET, get_signed_pdf

logger = logging.getLogger(__name__)


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
    actor: Actor,
    api_key_id: str | None = None,
    claim: Claim | None = None,
    now: datetime | None = None,
) -> ActState:
    """Store the act with its document, tell the client (``acte.cree``) and
    e-mail the person, in one transaction: all of it, or nothing. ``actor``
    is who asked, for the audit trail.

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
                    actor,
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
    actor: Actor,
    now: datetime | None = None,
) -> ActState:
    """Withdraw an act still waiting (``acte.annule``); the person is told
    by a short e-mail, so that they do not look for it in vain. ``actor`` is
    who withdrew it, for the audit trail."""
    now = now or utcnow()
    act = get_act(session, client_id, ref, now).act
    decide(session, act, STATUS_CANCELLED, now)
    record_in_trail(session, actions.ACTE_ANNULE, act, actor, now)

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


__all__ = [
    "MAX_LIST",
    "MAX_REFUSAL_LENGTH",
    "ActState",
    "NewAct",
    "act_document",
    "cancel_act",
    "create_act",
    "get_act",
    "get_act_for_person",
    "list_acts",
    "list_for_person",
    "list_waiting_for_person",
    "new_act_ref",
    "refuse_act",
    "sign_act",
    "signed_act_pdf",
]
