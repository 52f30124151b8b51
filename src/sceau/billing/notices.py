"""The end of a gratuit_notaire client's free period: notices ahead of it,
and the move to the next plan once it is over.

``sweep`` runs in every worker loop (a ``Chore`` of ``sceau serve`` and
``sceau worker``). Each step is done once per client whatever the number of
workers: a worker claims it by inserting its ``billing_notices`` row, and only
the one whose insert took effect records the event and queues the e-mail
(the notices), or records the plan change (the move). When the sweep has
missed a notice's day, only the nearest notice still ahead goes out.

The sweep also keeps ``clients.plan`` equal to the plan in force this month,
for the pages and checks that read it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sceau.audit.actors import Actor
from sceau.billing import service
from sceau.billing.models import BillingNotice, PlanChange
from sceau.billing.months import month_of, next_month
from sceau.billing.pricing import GRATUIT_NOTAIRE
from sceau.clients.models import Client
from sceau.db import Database, iso_utc, utcnow
from sceau.events.service import queue_email, record_event
from sceau.notifications.models import ClientContact
from sceau.settings import Settings

logger = logging.getLogger(__name__)

FREE_PERIOD_ENDING = "formule.fin_gratuite_proche"
SWEEP_SECONDS = 300.0
MOVED = "fin_gratuite"
SYSTEM_ACTOR = "systeme:fin_periode_gratuite"


def notice_kind(days: int) -> str:
    return f"fin_gratuite_j{days}"


def sweep(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """One pass: plans in force, notices due, periods over; steps done."""
    now = now or utcnow()
    done = sync_plans(db, now)
    done += send_free_period_notices(db, settings, now)
    done += end_free_periods(db, settings, now)
    return done


def send_free_period_notices(
    db: Database, settings: Settings, now: datetime | None = None
) -> int:
    """Tell each client whose free period ends within one of the notice
    delays (``billing_free_notice_days``) and was not told for it yet."""
    now = now or utcnow()
    due: list[tuple[str, int, datetime, str]] = []
    with db.sessions() as session:
        for client_id, end in _free_periods(session, settings, month_of(now)):
            if end <= now:
                continue
            reached = [
                days
                for days in settings.billing_free_notice_days
                if now >= end - timedelta(days=days)
            ]
            if not reached:
                continue
            days = min(reached)
            if session.get(BillingNotice, (client_id, notice_kind(days))) is not None:
                continue
            next_plan = service.after_free_plan(
                session, settings, client_id, month_of(now)
            )
            due.append((client_id, days, end, next_plan))

    sent = 0
    for client_id, days, end, next_plan in due:
        with db.transaction() as session:
            if not _claim(session, client_id, notice_kind(days), now):
                continue
            _tell(session, client_id, days, end, next_plan, now)
            sent += 1
    if sent:
        logger.info("billing.free_period_notices", extra={"sent": sent})
    return sent


def end_free_periods(
    db: Database, settings: Settings, now: datetime | None = None
) -> int:
    """Record, once, each free period's end as a plan change to the next
    plan, effective the month after the one it ended in; an operator's change
    already scheduled for then or later wins."""
    now = now or utcnow()
    over: list[tuple[str, datetime]] = []
    with db.sessions() as session:
        for client_id, end in _free_periods(session, settings, None):
            if end > now:
                continue
            if session.get(BillingNotice, (client_id, MOVED)) is not None:
                continue
            if service.plan_for_month(session, client_id, month_of(end)) == (
                GRATUIT_NOTAIRE
            ):
                over.append((client_id, end))

    moved = 0
    for client_id, end in over:
        effective = next_month(month_of(end))
        with db.transaction() as session:
            if not _claim(session, client_id, MOVED, now):
                continue
            later = session.scalar(
                select(PlanChange.id).where(
                    PlanChange.client_id == client_id,
                    PlanChange.effective_month >= effective,
                )
            )
            if later is not None:
                continue
            next_plan = service.after_free_plan(
                session, settings, client_id, month_of(end)
            )
            service.schedule_plan_change(
                session,
                client_id,
                next_plan,
                actor=SYSTEM_ACTOR,
                now=now,
                effective_month=effective,
                by=Actor.service(),
            )
            moved += 1
    if moved:
        logger.info("billing.free_periods_ended", extra={"moved": moved})
    return moved


def sync_plans(db: Database, now: datetime | None = None) -> int:
    """``clients.plan`` set to the plan in force this month where it differs."""
    month = month_of(now or utcnow())
    with db.sessions() as session:
        stale = [
            (client_id, plan)
            for client_id, current, plan in _plans_in_force(session, month)
            if current != plan
        ]
    if not stale:
        return 0
    with db.transaction() as session:
        for client_id, plan in stale:
            client = session.get(Client, client_id)
            if client is not None:
                client.plan = plan
    return len(stale)


def _plans_in_force(session: Session, month: str) -> list[tuple[str, str, str]]:
    changed = session.scalars(
        select(PlanChange.client_id)
        .where(PlanChange.effective_month <= month)
        .distinct()
    ).all()
    found = []
    for client_id in changed:
        client = session.get(Client, client_id)
        if client is not None:
            found.append(
                (
                    client_id,
                    client.plan,
                    service.plan_for_month(session, client_id, month),
                )
            )
    return found


def _free_periods(
    session: Session, settings: Settings, month: str | None
) -> list[tuple[str, datetime]]:
    """(client, end of its free period) of the clients on gratuit_notaire
    (in ``month`` when given) that have signed."""
    candidates = session.scalars(
        union(
            select(Client.id).where(Client.plan == GRATUIT_NOTAIRE),
            select(PlanChange.client_id).where(PlanChange.plan == GRATUIT_NOTAIRE),
        )
    ).all()
    periods = []
    for client_id in sorted(candidates):
        if month is not None and (
            service.plan_for_month(session, client_id, month) != GRATUIT_NOTAIRE
        ):
            continue
        end = service.free_period_end(session, settings, client_id)
        if end is not None:
            periods.append((client_id, end))
    return periods


def _claim(session: Session, client_id: str, kind: str, now: datetime) -> bool:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = session.execute(
        insert(BillingNotice)
        .values(client_id=client_id, kind=kind, done_at=now)
        .on_conflict_do_nothing(index_elements=["client_id", "kind"])
        .returning(BillingNotice.kind)
    )
    return result.scalar() is not None


def _tell(
    session: Session,
    client_id: str,
    days: int,
    end: datetime,
    next_plan: str,
    now: datetime,
) -> None:
    event = record_event(
        session,
        client_id=client_id,
        type=FREE_PERIOD_ENDING,
        data={
            "fin_periode_gratuite": iso_utc(end),
            "jours_restants": days,
            "formule_suivante": next_plan,
        },
        subject=notice_kind(days),
        now=now,
    )
    contact = session.get(ClientContact, client_id)
    if contact is not None and contact.contact_email:
        queue_email(session, event, contact.contact_email, now=now)
    else:
        logger.warning(
            "billing.free_period_notice_without_contact",
            extra={"client_id": client_id, "days": days},
        )
