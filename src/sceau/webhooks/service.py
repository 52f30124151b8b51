"""Webhook endpoints: registering, listing, removing, secrets and rotation."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sceau.clients.service import get_client
from sceau.db import utcnow
from sceau.events.models import STATUS_ABANDONED, STATUS_PENDING, Delivery
from sceau.events.types import ALL_TYPES
from sceau.webhooks.errors import EndpointNotFound, UnknownEventType
from sceau.webhooks.models import ORIGIN_CALLBACK, ORIGIN_REGISTERED, WebhookEndpoint
from sceau.webhooks.signatures import SecretBox, new_secret
from sceau.webhooks.ssrf import parse_callback_url


@dataclass(frozen=True)
class NewEndpoint:
    """A new endpoint; ``secret`` is shown to its owner now."""

    endpoint: WebhookEndpoint
    secret: str


def validate_types(types: Sequence[str]) -> list[str]:
    unknown = sorted(set(types) - set(ALL_TYPES))
    if unknown:
        raise UnknownEventType(
            f"Type d'événement inconnu : {', '.join(unknown)}. Types admis : "
            f"{', '.join(ALL_TYPES)}."
        )
    return sorted(set(types))


def add_endpoint(
    session: Session,
    box: SecretBox,
    *,
    client_id: str,
    url: str,
    event_types: Sequence[str] = (),
    allow_http_loopback: bool = False,
) -> NewEndpoint:
    """Register ``url`` for ``event_types`` (none: every type).

    The URL's form is checked here; where it resolves is checked at every
    attempt, since the name may not resolve from where it is registered.
    """
    get_client(session, client_id)
    parse_callback_url(url, allow_http_loopback=allow_http_loopback)
    types = validate_types(event_types)
    endpoint = WebhookEndpoint(
        id="whe_" + secrets.token_hex(8),
        client_id=client_id,
        url=url,
        origin=ORIGIN_REGISTERED,
        event_types=json.dumps(types),
        active=True,
    )
    secret = new_secret()
    endpoint.secret_sealed = box.seal(secret, endpoint.id)
    session.add(endpoint)
    session.flush()
    return NewEndpoint(endpoint, secret)


def callback_endpoint(session: Session, client_id: str, url: str) -> WebhookEndpoint:
    """The endpoint a request's ``callback_url`` is delivered to.

    A registered endpoint with the same URL is reused, so one URL has one
    secret; otherwise one is made, its secret made on first need.
    """
    existing = session.scalars(
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.client_id == client_id,
            WebhookEndpoint.url == url,
            WebhookEndpoint.removed_at.is_(None),
        )
        .order_by(WebhookEndpoint.created_at)
    ).first()
    if existing is not None:
        return existing
    endpoint = WebhookEndpoint(
        id="whe_" + secrets.token_hex(8),
        client_id=client_id,
        url=url,
        origin=ORIGIN_CALLBACK,
        event_types="[]",
        active=True,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


@dataclass(frozen=True)
class Destination:
    id: str


def destinations(
    session: Session, client_id: str, event_type: str, callback_url: str | None
) -> list[Destination]:
    """The live endpoints an event goes to, in one light query: the client's
    registered endpoints that subscribe to it, and ``callback_url``'s."""
    table = WebhookEndpoint.__table__
    registered = (table.c.origin == ORIGIN_REGISTERED) & table.c.active
    wanted = (
        registered
        if callback_url is None
        else registered | (table.c.url == callback_url)
    )
    rows = session.execute(
        select(
            table.c.id, table.c.url, table.c.origin, table.c.active, table.c.event_types
        )
        .where(table.c.client_id == client_id, table.c.removed_at.is_(None), wanted)
        .order_by(table.c.created_at)
    ).all()
    found: list[Destination] = []
    for row in rows:
        subscribed = row.event_types == "[]" or event_type in json.loads(
            row.event_types
        )
        if row.origin == ORIGIN_REGISTERED and row.active and subscribed:
            found.append(Destination(row.id))
    if callback_url is not None:
        for_url = [row for row in rows if row.url == callback_url]
        if not for_url:
            found.append(
                Destination(callback_endpoint(session, client_id, callback_url).id)
            )
        elif for_url[0].active and Destination(for_url[0].id) not in found:
            found.append(Destination(for_url[0].id))
    return found


def get_endpoint(
    session: Session, endpoint_id: str, client_id: str | None = None
) -> WebhookEndpoint:
    """The endpoint; with ``client_id``, only that client's (others read as
    unknown)."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if (
        endpoint is None
        or endpoint.removed_at is not None
        or (client_id is not None and endpoint.client_id != client_id)
    ):
        raise EndpointNotFound()
    return endpoint


def list_endpoints(
    session: Session, client_id: str | None = None
) -> list[WebhookEndpoint]:
    query = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.removed_at.is_(None))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    if client_id is not None:
        query = query.where(WebhookEndpoint.client_id == client_id)
    return list(session.scalars(query))


def subscribed_endpoints(
    session: Session, client_id: str, event_type: str
) -> list[WebhookEndpoint]:
    """The client's live registered endpoints that receive ``event_type``."""
    rows = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.client_id == client_id,
            WebhookEndpoint.origin == ORIGIN_REGISTERED,
            WebhookEndpoint.active.is_(True),
            WebhookEndpoint.removed_at.is_(None),
        )
    )
    return [endpoint for endpoint in rows if endpoint.receives(event_type)]


def remove_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    endpoint.removed_at = utcnow()
    endpoint.active = False
    abandon_pending(session, endpoint, "point de terminaison supprimé")


def disable_endpoint(
    session: Session, endpoint: WebhookEndpoint, reason: str, now: datetime
) -> None:
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:200]
    abandon_pending(session, endpoint, f"point de terminaison désactivé : {reason}")


def enable_endpoint(endpoint: WebhookEndpoint) -> None:
    endpoint.active = True
    endpoint.disabled_at = None
    endpoint.disabled_reason = None
    endpoint.failing_since = None


def set_event_types(endpoint: WebhookEndpoint, event_types: Sequence[str]) -> None:
    endpoint.event_types = json.dumps(validate_types(event_types))


def abandon_pending(session: Session, endpoint: WebhookEndpoint, reason: str) -> int:
    result = session.execute(
        update(Delivery)
        .where(Delivery.destination == endpoint.id, Delivery.status == STATUS_PENDING)
        .values(status=STATUS_ABANDONED, last_error=reason, lease_token=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def current_secret(session: Session, box: SecretBox, endpoint: WebhookEndpoint) -> str:
    """The endpoint's secret, made now if it has none yet (callback endpoints).

    Two processes may both find none: the guarded update lets the first one
    win, and both then read the winner's.
    """
    if endpoint.secret_sealed is None:
        session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id == endpoint.id,
                WebhookEndpoint.secret_sealed.is_(None),
            )
            .values(secret_sealed=box.seal(new_secret(), endpoint.id))
        )
        session.refresh(endpoint, ["secret_sealed"])
    assert endpoint.secret_sealed is not None
    return box.open(endpoint.secret_sealed, endpoint.id)


def live_secrets(box: SecretBox, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets to sign with: the current one, and the previous one while a
    rotation's overlap lasts. The current secret must exist."""
    assert endpoint.secret_sealed is not None
    found = [box.open(endpoint.secret_sealed, endpoint.id)]
    if (
        endpoint.previous_secret_sealed is not None
        and endpoint.previous_secret_until is not None
        and endpoint.previous_secret_until > now
    ):
        found.append(box.open(endpoint.previous_secret_sealed, endpoint.id))
    return found


def rotate_secret(
    session: Session,
    box: SecretBox,
    endpoint: WebhookEndpoint,
    overlap: timedelta,
) -> str:
    """A new secret; the old one still signs for ``overlap``."""
    current_secret(session, box, endpoint)
    secret = new_secret()
    endpoint.previous_secret_sealed = endpoint.secret_sealed
    endpoint.previous_secret_until = utcnow() + overlap
    endpoint.secret_sealed = box.seal(secret, endpoint.id)
    return secret
