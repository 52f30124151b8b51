"""Declaring, updating and closing incidents, and telling every affected
client at once on its agreed channel, through the outbox.

Each notice is an event (``incident.ouvert``, ``incident.mis_a_jour``,
``incident.clos``) whose subject is the incident; the time from its creation
(the declaration) to each delivery is what the SLA measures.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record
from sceau.clients.service import get_client
from sceau.db import utcnow
from sceau.events import types
from sceau.events.models import STATUS_DELIVERED, Delivery, Event
from sceau.events.service import queue_email, record_event
from sceau.incidents.errors import IncidentClosed, IncidentNotFound, InvalidIncident
from sceau.incidents.models import STATUS_CLOSED, STATUS_OPEN, Incident, IncidentUpdate
from sceau.notifications.models import (
    CHANNEL_BOTH,
    CHANNEL_EMAIL,
    CHANNEL_WEBHOOK,
    ClientContact,
)
from sceau.webhooks.service import subscribed_endpoints

logger = logging.getLogger(__name__)

REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def open_incident(
    session: Session,
    *,
    title: str,
    impact: str,
    client_ids: list[str] | None = None,
    by: Actor,
    now: datetime | None = None,
) -> Incident:
    title, impact = title.strip(), impact.strip()
    if not title or not impact:
        raise InvalidIncident()
    if client_ids is not None:
        for client_id in client_ids:
            get_client(session, client_id)
    now = now or utcnow()
    suffix = "".join(secrets.choice(REF_ALPHABET) for _ in range(6))
    incident = Incident(
        id=f"INC-{now:%Y%m%d}-{suffix}",
        title=title[:200],
        impact=impact,
        status=STATUS_OPEN,
        scope=None if client_ids is None else json.dumps(sorted(set(client_ids))),
        opened_at=now,
    )
    session.add(incident)
    session.flush()
    _tell(session, incident, types.INCIDENT_OUVERT, impact, now)
    _audit(
        session,
        actions.INCIDENT_OUVERT,
        incident,
        by,
        {"titre": incident.title, "impact": impact, "clients": incident.client_ids},
        now,
    )
    return incident


def update_incident(
    session: Session,
    incident_id: str,
    *,
    message: str,
    impact: str | None = None,
    by: Actor,
    now: datetime | None = None,
) -> Incident:
    incident = get_incident(session, incident_id)
    if incident.status == STATUS_CLOSED:
        raise IncidentClosed()
    if not message.strip():
        raise InvalidIncident("Une mise à jour a besoin d'un message.")
    if impact is not None and impact.strip():
        incident.impact = impact.strip()
    now = now or utcnow()
    _tell(session, incident, types.INCIDENT_MIS_A_JOUR, message.strip(), now)
    _audit(
        session,
        actions.INCIDENT_MIS_A_JOUR,
        incident,
        by,
        {"message": message.strip(), "impact": incident.impact},
        now,
    )
    return incident


def close_incident(
    session: Session,
    incident_id: str,
    *,
    message: str | None = None,
    by: Actor,
    now: datetime | None = None,
) -> Incident:
    incident = get_incident(session, incident_id)
    if incident.status == STATUS_CLOSED:
        raise IncidentClosed()
    now = now or utcnow()
    incident.status = STATUS_CLOSED
    incident.closed_at = now
    text = (message or "").strip() or "Le service fonctionne de nouveau normalement."
    _tell(session, incident, types.INCIDENT_CLOS, text, now)
    _audit(
        session,
        actions.INCIDENT_CLOS,
        incident,
        by,
        {"message": text, "ouvert_le": incident.opened_at},
        now,
    )
    return incident


def _audit(
    session: Session,
    action: str,
    incident: Incident,
    by: Actor,
    details: dict[str, Any],
    now: datetime,
) -> None:
    """The incident's step in the audit trail; the clients it concerns are
    among its objects, so that each one's entries include it (none: every
    client)."""
    record(
        session,
        action,
        actor=by,
        subject=incident.id,
        objects={"incident": incident.id, "clients": incident.client_ids},
        details=details,
        now=now,
    )


def get_incident(session: Session, incident_id: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentNotFound()
    return incident


def _tell(
    session: Session, incident: Incident, kind: str, message: str, now: datetime
) -> None:
    session.add(
        IncidentUpdate(incident_id=incident.id, kind=kind, message=message, at=now)
    )
    data = _incident_data(incident, message)
    for contact in _affected(session, incident):
        channel = contact.incident_channel
        by_webhook = channel in (CHANNEL_WEBHOOK, CHANNEL_BOTH)
        by_email = channel in (CHANNEL_EMAIL, CHANNEL_BOTH)
        if by_webhook and not subscribed_endpoints(session, contact.id, kind):
            # The agreed channel cannot carry it: fall back rather than say
            # nothing to a client within its SLA.
            logger.warning(
                "incident.no_webhook_endpoint",
                extra={"incident": incident.id, "client_id": contact.id},
            )
            by_email = True
        event = record_event(
            session,
            client_id=contact.id,
            type=kind,
            data=data,
            subject=incident.id,
            webhooks=by_webhook,
            now=now,
        )
        if by_email:
            if contact.contact_email:
                queue_email(session, event, contact.contact_email, now=now)
            else:
                logger.warning(
                    "incident.no_contact_email",
                    extra={"incident": incident.id, "client_id": contact.id},
                )
    logger.info("incident.told", extra={"incident": incident.id, "kind": kind})


def _affected(session: Session, incident: Incident) -> list[ClientContact]:
    query = select(ClientContact).order_by(ClientContact.id)
    ids = incident.client_ids
    if ids is not None:
        query = query.where(ClientContact.id.in_(ids))
    return list(session.scalars(query))


def _incident_data(incident: Incident, message: str) -> dict[str, Any]:
    return {
        "incident": incident.id,
        "titre": incident.title,
        "impact": incident.impact,
        "etat": incident.status,
        "message": message,
        "ouvert_le": _iso(incident.opened_at),
        "clos_le": _iso(incident.closed_at) if incident.closed_at else None,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


# -- the SLA's measure ---------------------------------------------------------


@dataclass(frozen=True)
class NoticeStats:
    notices: int
    delivered: int
    slowest: timedelta | None

    def as_json(self) -> dict[str, Any]:
        return {
            "avis": self.notices,
            "avis_livres": self.delivered,
            "delai_max_s": (
                round(self.slowest.total_seconds(), 3) if self.slowest else None
            ),
        }


def notice_stats(session: Session, incident_id: str) -> NoticeStats:
    """Every delivery of the incident's notices, and the longest time from a
    notice's declaration to its delivery."""
    rows = session.execute(
        select(Delivery.status, Delivery.delivered_at, Event.created_at)
        .join(Event, Event.seq == Delivery.event_seq)
        .where(Event.subject == incident_id, Event.type.in_(types.INCIDENT_TYPES))
    ).all()
    delays = [
        delivered - created
        for status, delivered, created in rows
        if status == STATUS_DELIVERED and delivered is not None
    ]
    return NoticeStats(len(rows), len(delays), max(delays) if delays else None)


def list_incidents(session: Session, *, open_only: bool = False) -> list[Incident]:
    query = select(Incident).order_by(Incident.opened_at.desc())
    if open_only:
        query = query.where(Incident.status == STATUS_OPEN)
    return list(session.scalars(query))


def incident_json(session: Session, incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "titre": incident.title,
        "impact": incident.impact,
        "etat": incident.status,
        "clients": incident.client_ids,
        "ouvert_le": _iso(incident.opened_at),
        "clos_le": _iso(incident.closed_at) if incident.closed_at else None,
        **notice_stats(session, incident.id).as_json(),
    }
