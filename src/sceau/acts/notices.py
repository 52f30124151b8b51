"""What an act's client and its person are told, through the outbox.

The client hears of each change by webhook (its endpoints and the act's
``callback_url``); the person by e-mail only, through events of their own
(``personne.acte_*``) recorded with ``webhooks=False``, so that nothing
addressed to the person reaches a client's endpoint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sceau.acts.models import Act
from sceau.db import iso_utc
from sceau.events.service import queue_email, record_event
from sceau.people.models import Person
from sceau.settings import Settings


def iso(moment: datetime) -> str:
    return iso_utc(moment)


def act_link(settings: Settings, ref: str) -> str:
    """Where the person reads and signs the act (no secret in it: the page
    asks them to log in)."""
    return f"{settings.public_base_url}/signer/actes/{ref}"


def tell_client(
    session: Session,
    act: Act,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> None:
    record_event(
        session,
        client_id=act.client_id,
        type=event_type,
        data={"ref_acte": act.ref, "code_09": act.code_09} | data,
        callback_url=act.callback_url,
        subject=act.ref,
        now=now,
    )


def tell_person(
    session: Session,
    settings: Settings,
    act: Act,
    person: Person,
    event_type: str,
    now: datetime,
) -> None:
    event = record_event(
        session,
        client_id=act.client_id,
        type=event_type,
        data={
            "nom": person.name,
            "ref_acte": act.ref,
            "motif": act.reason,
            "expire_le": act.expires_at.strftime("%d/%m/%Y à %H:%M UTC"),
            "lien": act_link(settings, act.ref),
        },
        subject=act.ref,
        webhooks=False,
        now=now,
    )
    queue_email(session, event, person.email, now=now)
