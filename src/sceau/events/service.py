"""The transactional outbox: events are written in the caller's transaction,
with one delivery per destination; workers make the deliveries later.

Nothing here does I/O beyond the caller's session: if the caller's
transaction commits, the event and its deliveries exist; if it rolls back,
neither does.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from sceau.db import utcnow
from sceau.events.errors import (
    DeliveryNotFound,
    InvalidDeliveryFilter,
    UnknownEventTypeEmitted,
)
from sceau.events.models import (
    CHANNEL_EMAIL,
    CHANNEL_WEBHOOK,
    DELIVERY_STATUSES,
    STATUS_PENDING,
    Delivery,
    DeliveryAttempt,
    Event,
)
from sceau.events.types import ALL_TYPES
from sceau.webhooks.errors import EndpointDisabled
from sceau.webhooks.models import WebhookEndpoint
from sceau.webhooks.service import Destination, destinations

_EVENTS = cast(Table, Event.__table__)
_DELIVERIES = cast(Table, Delivery.__table__)


def emit(
    session: Session,
    *,
    client_id: str,
    type: str,
    data: dict[str, Any],
    callback_url: str | None = None,
) -> Event:
    """Write an event and its webhook deliveries in the caller's transaction.

    The event goes to the client's registered endpoints that subscribe to
    ``type``, and to ``callback_url`` when given (a URL the caller has checked
    with ``webhooks.ssrf``; each attempt checks it again).
    """
    return record_event(
        session, client_id=client_id, type=type, data=data, callback_url=callback_url
    )


def record_event(
    session: Session,
    *,
    client_id: str,
    type: str,
    data: dict[str, Any],
    callback_url: str | None = None,
    subject: str | None = None,
    webhooks: bool = True,
    now: datetime | None = None,
) -> Event:
    """``emit`` with the knobs the service's own notices need: a ``subject`` to
    find the event by, and ``webhooks=False`` for notices that go by e-mail
    only (the client's agreed incident channel)."""
    if type not in ALL_TYPES:
        raise UnknownEventTypeEmitted(f"unknown event type {type!r}: add it to types")
    created = now or utcnow()
    event_id = "evt_" + secrets.token_hex(12)
    payload = json.dumps(
        {
            "id": event_id,
            "type": type,
            "timestamp": _iso(created),
            "client": client_id,
            "data": data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    # Written with Core statements rather than the unit of work: this runs in
    # every signing transaction, and the ORM's flush costs more than the rows.
    endpoints: list[Destination] = []
    if webhooks:
        with session.no_autoflush:
            endpoints = destinations(session, client_id, type, callback_url)
    values = {
        "id": event_id,
        "type": type,
        "client_id": client_id,
        "subject": subject,
        "payload": payload,
        "created_at": created,
    }
    seq = session.execute(
        insert(_EVENTS).values(values).returning(_EVENTS.c.seq)
    ).scalar_one()
    event = Event(seq=seq, **values)
    if endpoints:
        session.execute(
            insert(_DELIVERIES),
            [_webhook_delivery(event, e) for e in endpoints],
        )
    return event


def queue_email(
    session: Session, event: Event, to: str, *, now: datetime | None = None
) -> Delivery:
    """Send ``event`` as an e-mail notice to ``to``, through the outbox."""
    delivery = Delivery(
        id="dlv_" + secrets.token_hex(12),
        event_seq=event.seq,
        client_id=event.client_id,
        channel=CHANNEL_EMAIL,
        recipient=to,
        destination="email:" + to.lower(),
        status=STATUS_PENDING,
        attempts=0,
        next_attempt_at=now or event.created_at,
        created_at=now or event.created_at,
    )
    session.add(delivery)
    return delivery


def _webhook_delivery(event: Event, endpoint: Destination) -> dict[str, Any]:
    return {
        "id": "dlv_" + secrets.token_hex(12),
        "event_seq": event.seq,
        "client_id": event.client_id,
        "channel": CHANNEL_WEBHOOK,
        "endpoint_id": endpoint.id,
        "destination": endpoint.id,
        "status": STATUS_PENDING,
        "attempts": 0,
        "next_attempt_at": event.created_at,
        "created_at": event.created_at,
    }


# -- reading and redelivering --------------------------------------------------


@dataclass(frozen=True)
class DeliveryView:
    delivery: Delivery
    event: Event
    url: str | None
    attempts: list[DeliveryAttempt]


def list_deliveries(
    session: Session,
    *,
    client_id: str | None = None,
    endpoint_id: str | None = None,
    status: str | None = None,
    event_id: str | None = None,
    limit: int = 50,
) -> list[DeliveryView]:
    """Most recent first."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidDeliveryFilter(
            f"etat inconnu : {status} ; valeurs admises : "
            f"{', '.join(DELIVERY_STATUSES)}."
        )
    query = (
        select(Delivery, Event, WebhookEndpoint.url)
        .join(Event, Event.seq == Delivery.event_seq)
        .outerjoin(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .order_by(Delivery.seq.desc())
        .limit(max(1, min(limit, 500)))
    )
    if client_id is not None:
        query = query.where(Delivery.client_id == client_id)
    if endpoint_id is not None:
        query = query.where(Delivery.destination == endpoint_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    if event_id is not None:
        query = query.where(Event.id == event_id)
    rows = session.execute(query).all()
    attempts = _attempts_of(session, [row[0].seq for row in rows])
    return [
        DeliveryView(delivery, event, url, attempts.get(delivery.seq, []))
        for delivery, event, url in rows
    ]


def get_delivery(
    session: Session, delivery_id: str, client_id: str | None = None
) -> DeliveryView:
    row = session.execute(
        select(Delivery, Event, WebhookEndpoint.url)
        .join(Event, Event.seq == Delivery.event_seq)
        .outerjoin(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .where(Delivery.id == delivery_id)
    ).first()
    if row is None or (client_id is not None and row[0].client_id != client_id):
        raise DeliveryNotFound()
    delivery, event, url = row
    return DeliveryView(
        delivery,
        event,
        url,
        _attempts_of(session, [delivery.seq]).get(delivery.seq, []),
    )


def redeliver(
    session: Session, delivery_id: str, client_id: str | None = None
) -> Delivery:
    """Queue the same event to the same destination again, now.

    The new delivery carries the same ``webhook-id`` (the event's id), so a
    receiver that already has it can tell.
    """
    original = get_delivery(session, delivery_id, client_id).delivery
    if original.endpoint_id is not None:
        endpoint = session.get(WebhookEndpoint, original.endpoint_id)
        if endpoint is None or not endpoint.active or endpoint.removed_at:
            raise EndpointDisabled()
    now = utcnow()
    again = Delivery(
        id="dlv_" + secrets.token_hex(12),
        event_seq=original.event_seq,
        client_id=original.client_id,
        channel=original.channel,
        endpoint_id=original.endpoint_id,
        recipient=original.recipient,
        destination=original.destination,
        status=STATUS_PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(again)
    session.flush()
    return again


def _attempts_of(
    session: Session, delivery_seqs: Sequence[int]
) -> dict[int, list[DeliveryAttempt]]:
    found: dict[int, list[DeliveryAttempt]] = {}
    if not delivery_seqs:
        return found
    rows = session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_seq.in_(delivery_seqs))
        .order_by(DeliveryAttempt.id)
    )
    for attempt in rows:
        found.setdefault(attempt.delivery_seq, []).append(attempt)
    return found


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def delivery_json(view: DeliveryView) -> dict[str, Any]:
    """A delivery as the API and the CLI show it (French field names)."""
    d = view.delivery
    return {
        "id": d.id,
        "evenement": view.event.id,
        "type": view.event.type,
        "canal": d.channel,
        "webhook": d.endpoint_id,
        "url": view.url,
        "destinataire": d.recipient,
        "etat": d.status,
        "tentatives": d.attempts,
        "prochaine_tentative": (
            _iso(d.next_attempt_at) if d.status == STATUS_PENDING else None
        ),
        "dernier_statut_http": d.last_status,
        "derniere_erreur": d.last_error,
        "livre_le": _iso(d.delivered_at) if d.delivered_at else None,
        "cree_le": _iso(d.created_at),
        "essais": [
            {
                "numero": a.number,
                "debut": _iso(a.started_at),
                "duree_ms": a.duration_ms,
                "succes": a.succeeded,
                "statut_http": a.http_status,
                "erreur": a.error,
            }
            for a in view.attempts
        ],
    }
