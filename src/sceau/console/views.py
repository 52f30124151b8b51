"""What the console's client pages read and change, always within one
client: a credential, certificate or delivery of another client reads as
missing. Domain code: no FastAPI here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.audit.actors import Actor
from sceau.clients.certificates import (
    list_client_certificates,
    revoke_client_certificate,
)
from sceau.clients.models import ApiKey, ClientCertificate, HmacSecret
from sceau.clients.service import (
    MAX_GRACE,
    create_api_key,
    create_hmac_secret,
    is_active,
    list_api_keys,
    list_hmac_secrets,
    revoke_api_key,
    revoke_hmac_secret,
)
from sceau.console.errors import ConsoleFormInvalid, ConsolePageNotFound
from sceau.events.models import CHANNEL_WEBHOOK, Delivery, Event
from sceau.incidents.models import Incident
from sceau.incidents.service import list_incidents
from sceau.pki.keystore import KeySealer
from sceau.webhooks.models import WebhookEndpoint

KINDS = {"api": "Clé d'API", "hmac": "Clé HMAC"}


@dataclass(frozen=True)
class CredentialRow:
    kind: str
    id: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    state: str


@dataclass(frozen=True)
class Rotated:
    """A new credential: ``secret`` is shown on the answer page, never again."""

    kind: str
    id: str
    secret: str
    previous_until: datetime | None


@dataclass(frozen=True)
class DeliveryRow:
    id: str
    event_type: str
    endpoint_id: str
    url: str
    status: str
    attempts: int
    last_status: int | None
    created_at: datetime
    delivered_at: datetime | None


def credentials(session: Session, client_id: str, now: datetime) -> list[CredentialRow]:
    found: list[ApiKey | HmacSecret] = [
        *reversed(list_api_keys(session, client_id)),
        *reversed(list_hmac_secrets(session, client_id)),
    ]
    return [
        CredentialRow(
            kind="api" if isinstance(credential, ApiKey) else "hmac",
            id=credential.id,
            label=(
                credential.prefix + "…"
                if isinstance(credential, ApiKey)
                else credential.id
            ),
            created_at=credential.created_at,
            expires_at=credential.expires_at,
            revoked_at=credential.revoked_at,
            last_used_at=credential.last_used_at,
            state=_state(credential, now),
        )
        for credential in found
    ]


def _state(credential: ApiKey | HmacSecret, now: datetime) -> str:
    if credential.revoked_at is not None:
        return "révoquée"
    if not is_active(credential, now):
        return "expirée"
    return "en recouvrement" if credential.expires_at else "active"


def rotate(
    session: Session,
    sealer: KeySealer,
    client_id: str,
    kind: str,
    grace_hours: str,
    now: datetime,
    *,
    by: Actor,
) -> Rotated:
    """A new credential of ``kind``; the previous one stays valid for the
    grace period (as the API's own rotation, ``sceau.clients.routes``)."""
    grace = _grace(grace_hours)
    if kind == "api":
        issued = create_api_key(session, client_id, grace, by=by)
        previous: list[ApiKey] | list[HmacSecret] = list_api_keys(session, client_id)
    elif kind == "hmac":
        issued = create_hmac_secret(session, sealer, client_id, grace, by=by)
        previous = list_hmac_secrets(session, client_id)
    else:
        raise ConsolePageNotFound()
    overlap = [
        c.expires_at
        for c in previous
        if c.id != issued.id and is_active(c, now) and c.expires_at
    ]
    return Rotated(kind, issued.id, issued.secret, max(overlap) if overlap else None)


def _grace(hours: str) -> timedelta:
    try:
        value = float(hours.replace(",", ".")) if hours.strip() else 24.0
    except ValueError:
        value = -1.0
    # Checked before timedelta sees it: nan, inf and 1e12 hours are numbers
    # to float(), and an overflow or a failed comparison to timedelta.
    if not (math.isfinite(value) and 0 <= value <= MAX_GRACE / timedelta(hours=1)):
        raise ConsoleFormInvalid(
            "Le délai de recouvrement est un nombre d'heures entre 0 et 720.",
            code="parametre_invalide",
        )
    return timedelta(hours=value)


def revoke(
    session: Session, client_id: str, kind: str, credential_id: str, *, by: Actor
) -> None:
    found: ApiKey | HmacSecret | None
    if kind == "api":
        found = session.get(ApiKey, credential_id)
    elif kind == "hmac":
        found = session.get(HmacSecret, credential_id)
    else:
        found = None
    if found is None or found.client_id != client_id:
        raise ConsolePageNotFound()
    if kind == "api":
        revoke_api_key(session, credential_id, by=by)
    else:
        revoke_hmac_secret(session, credential_id, by=by)


def certificates(session: Session, client_id: str) -> list[ClientCertificate]:
    return list(reversed(list_client_certificates(session, client_id)))


def revoke_certificate(
    session: Session, client_id: str, fingerprint: str, *, by: Actor
) -> None:
    found = session.get(ClientCertificate, fingerprint)
    if found is None or found.client_id != client_id:
        raise ConsolePageNotFound()
    revoke_client_certificate(session, fingerprint, by=by)


def recent_deliveries(
    session: Session, client_id: str, *, limit: int = 50
) -> list[DeliveryRow]:
    rows = session.execute(
        select(Delivery, Event.type, WebhookEndpoint.url)
        .join(Event, Event.seq == Delivery.event_seq)
        .outerjoin(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .where(Delivery.client_id == client_id, Delivery.channel == CHANNEL_WEBHOOK)
        .order_by(Delivery.seq.desc())
        .limit(limit)
    ).all()
    return [
        DeliveryRow(
            id=delivery.id,
            event_type=event_type,
            endpoint_id=delivery.endpoint_id or delivery.destination,
            url=url or "",
            status=delivery.status,
            attempts=delivery.attempts,
            last_status=delivery.last_status,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
        )
        for delivery, event_type, url in rows
    ]


def incidents_of(session: Session, client_id: str) -> list[Incident]:
    """Incidents declared for every client, or for this one among others."""
    return [
        incident
        for incident in list_incidents(session)
        if incident.client_ids is None or client_id in incident.client_ids
    ]
