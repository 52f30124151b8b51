"""Acts in the background: overdue ones recorded as expired, and reminders
e-mailed to their person before expiry.

``sweep_acts`` runs in every worker loop (``sceau serve``, ``sceau worker``),
every ``SCEAU_ACT_SWEEP_INTERVAL_SECONDS``. Several may run at once: each
change is a conditional UPDATE, and only the sweep whose UPDATE took effect
emits the event or sends the e-mail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from sceau.acts import notices
from sceau.acts.models import STATUS_EXPIRED, STATUS_PENDING, Act
from sceau.acts.states import reminders_due
from sceau.acts.trail import record_in_trail
from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.db import Database, iso_utc, utcnow
from sceau.events import types
from sceau.people.models import Person
from sceau.settings import Settings

logger = logging.getLogger(__name__)

# Acts handled per transaction.
BATCH = 200


@dataclass(frozen=True)
class Sweep:
    expired: int
    reminded: int


def sweep_acts(db: Database, settings: Settings, now: datetime | None = None) -> Sweep:
    now = now or utcnow()
    swept = Sweep(
        expired=_expire_overdue(db, now), reminded=_send_reminders(db, settings, now)
    )
    if swept.expired or swept.reminded:
        logger.info(
            "acts.swept",
            extra={"expired": swept.expired, "reminded": swept.reminded},
        )
    return swept


def _expire_overdue(db: Database, now: datetime) -> int:
    expired = 0
    while True:
        with db.transaction() as session:
            overdue = session.scalars(
                select(Act)
                .where(Act.status == STATUS_PENDING, Act.expires_at <= now)
                .order_by(Act.expires_at, Act.ref)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            for act in overdue:
                if _claim(
                    session, act, status=STATUS_EXPIRED, decided_at=act.expires_at
                ):
                    notices.tell_client(
                        session,
                        act,
                        types.ACTE_EXPIRE,
                        {
                            "statut": STATUS_EXPIRED,
                            "expire_le": notices.iso(act.expires_at),
                        },
                        now,
                    )
                    record_in_trail(
                        session,
                        actions.ACTE_EXPIRE,
                        act,
                        Actor.service(),
                        now,
                        details={"expire_le": iso_utc(act.expires_at)},
                    )
                    expired += 1
        if len(overdue) < BATCH:
            return expired


def _send_reminders(db: Database, settings: Settings, now: datetime) -> int:
    thresholds = settings.act_reminder_hours
    if not thresholds:
        return 0
    # The next threshold of an act is the one of index ``reminders_sent``
    # (latest first): due once its time has come.
    due = or_(
        *(
            and_(
                Act.reminders_sent == index,
                Act.expires_at <= now + timedelta(hours=hours),
            )
            for index, hours in enumerate(thresholds)
        )
    )
    reminded = 0
    while True:
        with db.transaction() as session:
            rows = session.execute(
                select(Act, Person)
                .join(Person, Person.id == Act.person_id)
                .where(Act.status == STATUS_PENDING, Act.expires_at > now, due)
                .order_by(Act.expires_at, Act.ref)
                .limit(BATCH)
                .with_for_update(skip_locked=True, of=Act)
            ).all()
            for act, person in rows:
                # One e-mail however many thresholds passed since the last
                # sweep: a late reminder, not a burst of them.
                passed = reminders_due(settings, act.expires_at, now)
                if _claim(
                    session,
                    act,
                    status=STATUS_PENDING,
                    reminders_sent=passed,
                    expected_reminders=act.reminders_sent,
                ):
                    notices.tell_person(
                        session, settings, act, person, types.PERSONNE_ACTE_RAPPEL, now
                    )
                    reminded += 1
        if len(rows) < BATCH:
            return reminded


def _claim(
    session: Session,
    act: Act,
    *,
    status: str,
    expected_reminders: int | None = None,
    **values: object,
) -> bool:
    """Apply ``values`` if the act is still as this sweep read it."""
    query = update(Act).where(Act.ref == act.ref, Act.status == STATUS_PENDING)
    if expected_reminders is not None:
        query = query.where(Act.reminders_sent == expected_reminders)
    changed = session.execute(
        query.values(status=status, **values).execution_options(
            synchronize_session=False
        )
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]
