"""The yearly review of authority matrices: a notice to the client when the
review date of its matrix in force comes within 30 days.

``send_review_notices`` runs in every worker loop (``sceau serve``, ``sceau
worker``). It first looks, without taking any write lock, for a matrix due;
there is usually none. Several may run at once: a notice is claimed by a
conditional UPDATE of ``review_notice_at``, and only the sweep whose UPDATE
took effect records the event (``matrice.revue_proche``) and queues the
e-mail. A new version has a notice of its own; a version is told once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from sceau.authority.models import AuthorityMatrix
from sceau.authority.service import business_date
from sceau.db import Database, utcnow
from sceau.events import types
from sceau.events.service import queue_email, record_event
from sceau.notifications.models import ClientContact

logger = logging.getLogger(__name__)

NOTICE_DAYS = 30
# How often a worker loop looks; a notice is days ahead of its date.
SWEEP_SECONDS = 300.0
# Matrices told per transaction.
BATCH = 100


def send_review_notices(db: Database, now: datetime | None = None) -> int:
    """Tell each client whose matrix in force is due for review within
    ``NOTICE_DAYS`` days (or overdue) and was not told yet; how many were."""
    now = now or utcnow()
    due = _due(now)

    with db.sessions() as session:
        if session.scalar(select(AuthorityMatrix.id).where(due).limit(1)) is None:
            return 0

    sent = 0
    while True:
        with db.transaction() as session:
            matrices = session.scalars(
                select(AuthorityMatrix)
                .where(due)
                .order_by(AuthorityMatrix.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True, of=AuthorityMatrix)
            ).all()
            for matrix in matrices:
                if _claim(session, matrix, now):
                    _tell(session, matrix, now)
                    sent += 1
        if len(matrices) < BATCH:
            break
    if sent:
        logger.info("authority.review_notices", extra={"sent": sent})
    return sent


def _due(now: datetime) -> ColumnElement[bool]:
    horizon = business_date(now) + timedelta(days=NOTICE_DAYS)
    newer = aliased(AuthorityMatrix)
    superseded = exists().where(
        newer.client_id == AuthorityMatrix.client_id,
        newer.version > AuthorityMatrix.version,
    )
    return (
        AuthorityMatrix.review_notice_at.is_(None)
        & (AuthorityMatrix.review_due <= horizon)
        & ~superseded
    )


def _claim(session: Session, matrix: AuthorityMatrix, now: datetime) -> bool:
    changed = session.execute(
        update(AuthorityMatrix)
        .where(
            AuthorityMatrix.id == matrix.id,
            AuthorityMatrix.review_notice_at.is_(None),
        )
        .values(review_notice_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]


def _tell(session: Session, matrix: AuthorityMatrix, now: datetime) -> None:
    data: dict[str, Any] = {
        "version_matrice": matrix.version,
        "revue_le": matrix.review_due.isoformat(),
        "politique": matrix.overdue_policy,
    }
    event = record_event(
        session,
        client_id=matrix.client_id,
        type=types.MATRICE_REVUE_PROCHE,
        data=data,
        subject=f"matrice-v{matrix.version}",
        now=now,
    )
    contact = session.get(ClientContact, matrix.client_id)
    if contact is not None and contact.contact_email:
        queue_email(session, event, contact.contact_email, now=now)
    else:
        logger.warning(
            "authority.review_notice_without_contact",
            extra={"client_id": matrix.client_id, "version": matrix.version},
        )
