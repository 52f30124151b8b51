"""Reading acts with what comes with them, and taking one out of
``en_attente``: the steps ``sceau.acts.service`` and the sweeper share."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, or_, select, update
from sqlalchemy.orm import Session

from sceau.acts.errors import ActAlreadyDecided, ActExpired, InvalidActFilter
from sceau.acts.models import (
    STATUS_CANCELLED,
    STATUS_EXPIRED,
    STATUS_PENDING,
    STATUS_REFUSED,
    STATUS_SIGNED,
    STATUSES,
    Act,
)
from sceau.clients.models import Client
from sceau.settings import Settings
from sceau.signing.models import SignatureRecord

logger = logging.getLogger(__name__)

REF_PATTERN = re.compile(r"^ACT-\d{8}-[0-9A-Z]{6}$")

NOT_PENDING = {
    STATUS_SIGNED: "Cet acte est déjà signé.",
    STATUS_REFUSED: "Cet acte a été refusé par son signataire.",
    STATUS_CANCELLED: "Cet acte a été annulé par son émetteur.",
}


@dataclass(frozen=True)
class ActState:
    """An act as its client or its person sees it."""

    act: Act
    # Effective: ``en_attente`` past its expiry reads ``expire``.
    status: str
    client_name: str
    signature: SignatureRecord | None

    @property
    def decided_at(self) -> datetime | None:
        if self.act.decided_at is None and self.status == STATUS_EXPIRED:
            return self.act.expires_at
        return self.act.decided_at


def effective_status(act: Act, now: datetime) -> str:
    if act.status == STATUS_PENDING and act.expires_at <= now:
        return STATUS_EXPIRED
    return act.status


def reminders_due(settings: Settings, expires_at: datetime, now: datetime) -> int:
    """How many reminder thresholds have passed at ``now`` (latest first)."""
    return sum(
        1
        for hours in settings.act_reminder_hours
        if now >= expires_at - timedelta(hours=hours)
    )


def decide(
    session: Session, act: Act, status: str, now: datetime, **values: object
) -> None:
    """Take the act out of ``en_attente``, or say why it already was."""
    decided = session.execute(
        update(Act)
        .where(
            Act.ref == act.ref,
            Act.status == STATUS_PENDING,
            Act.expires_at > now,
        )
        .values(status=status, decided_at=now, **values)
        # The act may come from another session (a signature's check): only
        # copies in this one are brought up to date.
        .execution_options(synchronize_session="fetch")
    )
    if decided.rowcount == 1:  # type: ignore[attr-defined]
        return
    current = session.scalar(select(Act.status).where(Act.ref == act.ref))
    logger.info("act.not_pending", extra={"ref": act.ref, "status": current})
    if current in NOT_PENDING:
        raise ActAlreadyDecided(NOT_PENDING[current])
    raise ActExpired()


def require_pending(state: ActState) -> None:
    if state.status == STATUS_EXPIRED:
        raise ActExpired()
    if state.status != STATUS_PENDING:
        raise ActAlreadyDecided(NOT_PENDING.get(state.status))


def status_is(status: str, now: datetime) -> ColumnElement[bool]:
    if status not in STATUSES:
        raise InvalidActFilter(
            f"statut inconnu : {status} ; valeurs admises : {', '.join(STATUSES)}."
        )
    overdue = and_(Act.status == STATUS_PENDING, Act.expires_at <= now)
    if status == STATUS_PENDING:
        return and_(Act.status == STATUS_PENDING, Act.expires_at > now)
    if status == STATUS_EXPIRED:
        return or_(Act.status == STATUS_EXPIRED, overdue)
    return Act.status == status


def state_query() -> Select[Act, str, SignatureRecord]:
    return (
        select(Act, Client.name, SignatureRecord)
        .join(Client, Client.id == Act.client_id)
        .outerjoin(SignatureRecord, SignatureRecord.ref == Act.signature_ref)
    )


def run_states(
    session: Session,
    query: Select[Act, str, SignatureRecord],
    now: datetime,
) -> list[ActState]:
    return [
        ActState(act, effective_status(act, now), name, signature)
        for act, name, signature in session.execute(query).all()
    ]


def find_state(session: Session, ref: str, now: datetime) -> ActState | None:
    if not REF_PATTERN.match(ref):
        return None
    found = run_states(session, state_query().where(Act.ref == ref), now)
    return found[0] if found else None


def state_of(session: Session, act: Act, now: datetime) -> ActState:
    state = find_state(session, act.ref, now)
    assert state is not None
    return state
