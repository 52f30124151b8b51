"""Moving a client through its integration, one recorded step at a time.

The steps follow the sheet's section 5: ``cadrage`` (the scoping meeting),
``convention`` (the agreement is signed; its parameters are recorded),
``provisionne`` (credentials and identities issued), ``pilote`` (restricted
production) and ``production``. Only the operator moves a client, one step
forward at a time; every step is kept with who made it and when.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.clients.errors import ClientNotFound
from sceau.clients.models import Client
from sceau.clients.service import get_client, record_client_change
from sceau.db import iso_utc, utcnow
from sceau.events import types
from sceau.events.service import queue_email, record_event
from sceau.lifecycle.agreement import parse_agreement
from sceau.lifecycle.errors import IntegrationNotOpen, TransitionInvalid
from sceau.lifecycle.models import (
    CONVENTION,
    MAX_ACTOR,
    PILOT,
    PRODUCTION,
    STATES,
    ClientStateChange,
)
from sceau.lifecycle.pilot import pilot_terms
from sceau.notifications.models import ClientContact
from sceau.settings import Settings

# Where a client's calls may sign: in pilot (capped) and in production.
OPEN_STATES = (PILOT, PRODUCTION)
MAX_NOTE = 2000


def transition(
    session: Session,
    client_id: str,
    to_state: str,
    *,
    actor: str,
    settings: Settings,
    note: str | None = None,
    agreement: Mapping[str, Any] | None = None,
    by: Actor,
    now: datetime | None = None,
) -> ClientStateChange:
    """Move the client one step forward; the step into ``convention`` needs
    the agreement's parameters, and only that step takes them. The client is
    told (``integration.etape``, to its webhooks and its contact's e-mail).
    ``by`` is who moves it, for the audit trail; ``actor`` is the label the
    history shows."""
    client = _locked_client(session, client_id)
    if to_state not in STATES:
        raise TransitionInvalid(
            f"Étape inconnue : {to_state[:40]!r} (étapes : {', '.join(STATES)})."
        )
    if STATES.index(to_state) != STATES.index(client.state) + 1:
        raise TransitionInvalid(
            f"Le client est à l'étape « {client.state} » : l'étape suivante est "
            f"« {_next(client.state)} », pas « {to_state} »."
        )

    stored_agreement = None
    if to_state == CONVENTION:
        if agreement is None:
            raise TransitionInvalid(
                "Le passage en convention enregistre ses paramètres : modes, "
                "niveau, matrice_autorite, formule, canal (et plafond_pilote)."
            )
        stored_agreement = json.dumps(parse_agreement(agreement), sort_keys=True)
        client.service_agreement = stored_agreement
    elif agreement is not None:
        raise TransitionInvalid(
            "Les paramètres de la convention s'enregistrent au passage en "
            "convention seulement."
        )

    change = ClientStateChange(
        client_id=client.id,
        from_state=client.state,
        to_state=to_state,
        actor=_actor(actor),
        note=(note.strip()[:MAX_NOTE] or None) if note else None,
        agreement=stored_agreement,
        at=now or utcnow(),
    )
    client.state = to_state
    session.add(change)
    session.flush()
    _tell(session, settings, change)
    record_client_change(
        session,
        actions.CLIENT_ETAT_MODIFIE,
        client.id,
        by,
        change.from_state,
        change.to_state,
        now=change.at,
        note=change.note,
        convention=json.loads(stored_agreement) if stored_agreement else None,
    )
    return change


def _tell(session: Session, settings: Settings, change: ClientStateChange) -> None:
    data: dict[str, Any] = {
        "de": change.from_state,
        "vers": change.to_state,
        "le": iso_utc(change.at),
        "note": change.note,
    }
    if change.to_state == PILOT:
        terms = pilot_terms(session, settings, change.client_id)
        assert terms is not None  # the client was just put in pilot
        data |= {
            "mention_pilote": terms.marker,
            "plafond_journalier_pilote": terms.daily_cap,
        }
    event = record_event(
        session,
        client_id=change.client_id,
        type=types.INTEGRATION_ETAPE,
        data=data,
        subject=change.client_id,
        now=change.at,
    )
    contact = session.get(ClientContact, change.client_id)
    if contact is not None and contact.contact_email:
        queue_email(session, event, contact.contact_email, now=change.at)


def history(session: Session, client_id: str) -> list[ClientStateChange]:
    get_client(session, client_id)
    return list(
        session.scalars(
            select(ClientStateChange)
            .where(ClientStateChange.client_id == client_id)
            .order_by(ClientStateChange.at, ClientStateChange.id)
        )
    )


def require_open(state: str) -> None:
    """Refuse a signing call from a client not yet in pilot."""
    if state not in OPEN_STATES:
        raise IntegrationNotOpen(
            f"Votre intégration est à l'étape « {state} » : les signatures "
            "s'ouvrent à la phase pilote. Rapprochez-vous de votre contact "
            "Pixel Sceau."
        )


def _locked_client(session: Session, client_id: str) -> Client:
    # Two operators stepping the same client at once: the second waits and
    # then sees the first's step.
    client = session.scalars(
        select(Client)
        .where(Client.id == client_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if client is None:
        raise ClientNotFound()
    return client


def _next(state: str) -> str:
    index = STATES.index(state)
    return STATES[index + 1] if index + 1 < len(STATES) else "(aucune)"


def _actor(actor: str) -> str:
    actor = actor.strip()
    if not actor:
        raise ValueError("a state change names who made it")
    return actor[:MAX_ACTOR]


def open_during(
    session: Session, client_id: str, start: datetime, end: datetime
) -> bool:
    """Whether the client could sign at some time in [start, end): it was in
    pilot or production then, from the steps it took."""
    changes = history(session, client_id)
    state_at_start = None
    for change in changes:
        if change.at >= end:
            break
        if change.at <= start:
            state_at_start = change.to_state
        elif change.to_state in OPEN_STATES:
            return True
    return state_at_start in OPEN_STATES
