"""The SLA indicators of a client's month, beside its plan's targets, and the
credits a missed target earns.

Months are UTC calendar months, written "YYYY-MM". How each indicator is
measured is told in docs/operations.md ("SLA indicators").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from sceau.billing.service import plan_for_month
from sceau.clients.service import get_client
from sceau.db import utcnow
from sceau.events import types
from sceau.events.models import (
    CHANNEL_WEBHOOK,
    STATUS_ABANDONED,
    STATUS_DELIVERED,
    STATUS_FAILED,
    Delivery,
    DeliveryAttempt,
    Event,
)
from sceau.settings import Settings
from sceau.signing.models import SignatureRecord
from sceau.sla.errors import InvalidMonth
from sceau.sla.models import (
    BUCKET_COLUMNS,
    KIND_API,
    LATENCY_EDGES_MS,
    Heartbeat,
    RequestMinute,
)
from sceau.sla.recorder import minute_of

API_P95 = "temps_reponse_api_p95_ms"
SIGNING_P95 = "delai_signature_p95_ms"
AVAILABILITY = "disponibilite_pct"
INCIDENT_NOTICE = "delai_notification_incident_min"
WEBHOOKS = "livraison_webhooks_pct"

LOWER, HIGHER = "lower", "higher"

# code: (French label, unit, which way is better), in the order shown.
DEFINITIONS: dict[str, tuple[str, str, str]] = {
    API_P95: ("Temps de réponse API (95e centile, hors signature)", "ms", LOWER),
    SIGNING_P95: ("Délai d'apposition d'une signature (95e centile)", "ms", LOWER),
    AVAILABILITY: ("Disponibilité mensuelle du service", "%", HIGHER),
    INCIDENT_NOTICE: ("Délai de notification d'incident (le plus long)", "min", LOWER),
    WEBHOOKS: ("Webhooks livrés avec succès", "%", HIGHER),
}
CODES = tuple(DEFINITIONS)

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
OUT_OF_RANGE = (
    "Le mois demandé est hors du calendrier pris en charge : indiquez un mois "
    "AAAA-MM entre 0001-01 et 9999-11 (mois UTC)."
)
PERCENTILE = 0.95


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str
    value: float | None
    unit: str
    target: float | None
    better: str
    met: bool | None


@dataclass(frozen=True)
class SlaCredit:
    code: str
    label: str
    percent: int


@dataclass(frozen=True)
class _Window:
    """The month's bounds, [start, end), in UTC."""

    month: str
    start: datetime
    end: datetime


def month_window(month: str) -> _Window:
    match = _MONTH.match(month)
    if match is None:
        raise InvalidMonth()
    year, number = int(match[1]), int(match[2])
    try:
        start = datetime(year, number, 1, tzinfo=UTC)
        end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    except ValueError as exc:
        # 0000-01 has no start, 9999-12 no end: the calendar stops there.
        raise InvalidMonth(OUT_OF_RANGE) from exc
    return _Window(month, start, end)


def month_of(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m}"


def last_months(count: int, now: datetime) -> list[str]:
    """The ``count`` months up to ``now``'s, oldest first."""
    year, number = now.astimezone(UTC).year, now.astimezone(UTC).month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{number:02d}")
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
    return months[::-1]


# -- the interface -----------------------------------------------------------------


def indicators(
    session: Session,
    settings: Settings,
    client_id: str,
    month: str,
    *,
    now: datetime | None = None,
) -> list[Indicator]:
    """The five indicators of the client's month, measured up to ``now``."""
    window = month_window(month)
    client = get_client(session, client_id)
    now = now or utcnow()
    # The targets of the plan in force that month, not of today's plan.
    targets = settings.sla_targets.get(plan_for_month(session, client_id, month), {})

    measures: dict[str, Callable[[], float | None]] = {
        API_P95: lambda: api_p95_ms(session, client_id, window),
        SIGNING_P95: lambda: signing_p95_ms(session, client_id, window),
        AVAILABILITY: lambda: availability_pct(
            session, client_id, window, since=client.created_at, now=now
        ),
        INCIDENT_NOTICE: lambda: incident_notice_minutes(
            session, client_id, window, now=now
        ),
        WEBHOOKS: lambda: webhook_success_pct(session, client_id, window),
    }
    shown = []
    for code, (label, unit, better) in DEFINITIONS.items():
        value = measures[code]() if window.start <= now else None
        target = targets.get(code)
        shown.append(
            Indicator(
                code, label, value, unit, target, better, _met(value, target, better)
            )
        )
    return shown


def series(
    session: Session,
    settings: Settings,
    client_id: str,
    *,
    months: int = 6,
    now: datetime | None = None,
) -> dict[str, list[tuple[str, float | None, float | None]]]:
    """Per indicator, (month, value, target) for the last ``months`` months,
    oldest first, the last being ``now``'s."""
    now = now or utcnow()
    by_code: dict[str, list[tuple[str, float | None, float | None]]] = {
        code: [] for code in CODES
    }
    for month in last_months(months, now):
        for indicator in indicators(session, settings, client_id, month, now=now):
            by_code[indicator.code].append((month, indicator.value, indicator.target))
    return by_code


def credits_for(
    session: Session,
    settings: Settings,
    client_id: str,
    month: str,
    *,
    now: datetime | None = None,
) -> list[SlaCredit]:
    """The month's missed indicators, each with its credit in percent of the
    month's invoice subtotal (``SCEAU_SLA_CREDIT_PERCENT``). Meant for a month
    that is over: the current one is measured only up to ``now``."""
    grid = settings.sla_credit_percent
    return [
        SlaCredit(indicator.code, indicator.label, grid[indicator.code])
        for indicator in indicators(session, settings, client_id, month, now=now)
        if indicator.met is False and grid.get(indicator.code, 0) > 0
    ]


def indicator_json(indicator: Indicator) -> dict[str, Any]:
    """As the API and the CLI show it, in French."""
    return {
        "indicateur": indicator.code,
        "libelle": indicator.label,
        "valeur": indicator.value,
        "unite": indicator.unit,
        "objectif": indicator.target,
        "sens": "max" if indicator.better == LOWER else "min",
        "respecte": indicator.met,
    }


def _met(value: float | None, target: float | None, better: str) -> bool | None:
    if value is None or target is None:
        return None
    # Targets are bounds reached inclusively: a p95 read as a bucket's upper
    # edge is itself a bound on the true p95.
    return value <= target if better == LOWER else value >= target


# -- the measures --------------------------------------------------------------------


def api_p95_ms(session: Session, client_id: str, window: _Window) -> float | None:
    """The upper edge of the latency bucket that holds the 95th percentile of
    the month's API requests (signing excluded); the last edge when beyond."""
    columns = [
        func.coalesce(func.sum(RequestMinute.__table__.c[name]), 0)
        for name in BUCKET_COLUMNS
    ]
    counts = session.execute(
        select(*columns).where(
            RequestMinute.client_id == client_id,
            RequestMinute.kind == KIND_API,
            RequestMinute.minute >= window.start,
            RequestMinute.minute < window.end,
        )
    ).one()
    return p95_of_buckets([int(count) for count in counts])


def p95_of_buckets(counts: list[int]) -> float | None:
    total = sum(counts)
    if total == 0:
        return None
    rank = math.ceil(PERCENTILE * total)
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return float(LATENCY_EDGES_MS[min(index, len(LATENCY_EDGES_MS) - 1)])
    raise AssertionError("unreachable: the ranks add up to the total")


def signing_p95_ms(session: Session, client_id: str, window: _Window) -> float | None:
    """The 95th percentile (nearest rank) of the month's signatures' time, as
    the pipeline recorded it from the request's start to the signature's
    record: time-stamp and anchoring queue included."""
    in_month = (
        SignatureRecord.client_id == client_id,
        SignatureRecord.signed_at >= window.start,
        SignatureRecord.signed_at < window.end,
    )
    total = session.scalar(select(func.count()).where(*in_month)) or 0
    if total == 0:
        return None
    rank = math.ceil(PERCENTILE * total)
    duration = session.scalar(
        select(SignatureRecord.duration_ms)
        .where(*in_month)
        .order_by(SignatureRecord.duration_ms)
        .offset(rank - 1)
        .limit(1)
    )
    return None if duration is None else float(duration)


def availability_pct(
    session: Session,
    client_id: str,
    window: _Window,
    *,
    since: datetime,
    now: datetime,
) -> float | None:
    """The share of the month's whole minutes with a healthy heartbeat and no
    answer of status 500 or more to this client, from the month's start, the
    client's creation or the first heartbeat the service ever recorded,
    whichever is latest, to ``now`` (or the month's end). None while nothing
    is measured: before the first heartbeat there is no measure to hold
    against the service, only after it does a missing beat count as down."""
    first_beat = session.scalar(select(func.min(Heartbeat.minute)))
    if first_beat is None:
        return None
    start = max(window.start, minute_of(since), first_beat)
    end = min(minute_of(now), window.end)
    minutes = int((end - start) / timedelta(minutes=1))
    if minutes <= 0:
        return None

    in_range = (Heartbeat.minute >= start, Heartbeat.minute < end)
    healthy = (
        session.scalar(
            select(func.count()).where(Heartbeat.healthy.is_(True), *in_range)
        )
        or 0
    )
    failed = (
        session.scalar(
            select(func.count(distinct(RequestMinute.minute)))
            .join(Heartbeat, Heartbeat.minute == RequestMinute.minute)
            .where(
                RequestMinute.client_id == client_id,
                RequestMinute.server_errors > 0,
                Heartbeat.healthy.is_(True),
                *in_range,
            )
        )
        or 0
    )
    return round(100 * (healthy - failed) / minutes, 3)


def incident_notice_minutes(
    session: Session, client_id: str, window: _Window, *, now: datetime
) -> float | None:
    """The longest time, in minutes, from an incident notice's declaration to
    the service's first attempt to deliver it to the client (e-mail or
    webhook), whatever the attempt's outcome; a notice not yet attempted
    counts with its age at ``now``. A notice with nowhere to go (no contact,
    or only deliveries the client abandoned unattempted) is not counted."""
    first_attempt = (
        select(
            DeliveryAttempt.delivery_seq,
            func.min(DeliveryAttempt.started_at).label("started_at"),
        )
        .group_by(DeliveryAttempt.delivery_seq)
        .subquery()
    )
    awaited = case(
        (Delivery.status != STATUS_ABANDONED, 1),
        (first_attempt.c.started_at.is_not(None), 1),
        else_=0,
    )
    rows = session.execute(
        select(
            Event.created_at,
            func.min(first_attempt.c.started_at),
            func.coalesce(func.max(awaited), 0),
        )
        .outerjoin(Delivery, Delivery.event_seq == Event.seq)
        .outerjoin(first_attempt, first_attempt.c.delivery_seq == Delivery.seq)
        .where(
            Event.client_id == client_id,
            Event.type.in_(types.INCIDENT_TYPES),
            Event.created_at >= window.start,
            Event.created_at < window.end,
        )
        .group_by(Event.seq, Event.created_at)
    ).all()
    delays = [(attempted or now) - created for created, attempted, owed in rows if owed]
    if not delays:
        return None
    return round(max(max(delays), timedelta(0)) / timedelta(minutes=1), 1)


def webhook_success_pct(
    session: Session, client_id: str, window: _Window
) -> float | None:
    """The share of the month's webhook deliveries that ended delivered, among
    those that ended delivered or failed (every retry spent). Pending ones
    are not over; abandoned ones lost their endpoint to the client."""
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(
            Delivery.client_id == client_id,
            Delivery.channel == CHANNEL_WEBHOOK,
            Delivery.status.in_((STATUS_DELIVERED, STATUS_FAILED)),
            Delivery.created_at >= window.start,
            Delivery.created_at < window.end,
        )
        .group_by(Delivery.status)
    ).all()
    counts = {status: count for status, count in rows}
    ended = sum(counts.values())
    if ended == 0:
        return None
    return round(100 * counts.get(STATUS_DELIVERED, 0) / ended, 2)
