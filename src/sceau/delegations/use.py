"""Signing under a delegation (``sceau.modes.delegated``): ``find_delegation``
before signing, ``take_use`` inside the storing transaction (the daily count,
under a lock on the delegation's row), ``record_refusal`` after a refusal
(kept, told to the client and, at most once an hour, to the person).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record as record_audit
from sceau.db import Database, iso_utc, utcnow
from sceau.delegations.envelope import (
    LIMIT_VALIDITY,
    Crossing,
    Envelope,
    check,
    daily_limit_crossing,
    format_amount,
    no_delegation_crossing,
)
from sceau.delegations.errors import EnvelopeCrossed
from sceau.delegations.models import (
    STATUS_ACTIVE,
    Delegation,
    DelegationDailyUse,
    DelegationRefusal,
)
from sceau.delegations.states import envelope_of, used_on
from sceau.events import types
from sceau.events.service import queue_email, record_event
from sceau.people.models import Person
from sceau.settings import Settings

logger = logging.getLogger(__name__)

# A person hears of refused requests by e-mail at most once an hour per
# client, however many are refused; every refusal still reaches the client.
REFUSAL_NOTICE_INTERVAL = timedelta(hours=1)


def find_delegation(
    session: Session,
    *,
    client_id: str,
    person_id: str,
    act_type: str,
    amount: int,
    at: datetime,
) -> tuple[Delegation, Envelope]:
    """The person's delegation to this client whose envelope holds the
    request at ``at``; the most recently signed one is tried first, and its
    crossing is the one reported when none holds it."""
    delegations = session.scalars(
        select(Delegation)
        .where(
            Delegation.person_id == person_id,
            Delegation.client_id == client_id,
            Delegation.status == STATUS_ACTIVE,
        )
        .order_by(Delegation.signed_at.desc(), Delegation.ref)
    ).all()
    if not delegations:
        raise EnvelopeCrossed(no_delegation_crossing(), None)
    first: tuple[Crossing, str] | None = None
    for delegation in delegations:
        envelope = envelope_of(delegation)
        crossing = check(envelope, act_type=act_type, amount=amount, at=at)
        if crossing is None and envelope.daily_limit is not None:
            crossing = daily_limit_crossing(
                envelope, used_on(session, delegation.ref, envelope.local_day(at))
            )
        if crossing is None:
            return delegation, envelope
        first = first or (crossing, delegation.ref)
    assert first is not None
    raise EnvelopeCrossed(*first)


def take_use(session: Session, ref: str, at: datetime) -> None:
    """Count one signature on the delegation's local day, in the storing
    transaction: the delegation's row is locked, so that of two requests for
    the last signature of a day one is refused, and a revocation is seen."""
    delegation = session.scalars(
        select(Delegation).where(Delegation.ref == ref).with_for_update(key_share=True)
    ).one()
    session.refresh(delegation)
    if delegation.status != STATUS_ACTIVE:
        raise EnvelopeCrossed(
            Crossing(
                LIMIT_VALIDITY,
                f"La délégation {ref} a pris fin pendant le traitement de la "
                "demande : rien n'a été signé.",
            ),
            ref,
        )
    envelope = envelope_of(delegation)
    day = envelope.local_day(at)
    use = session.get(DelegationDailyUse, (ref, day))
    if use is None:
        use = DelegationDailyUse(delegation_ref=ref, day=day, count=0)
        session.add(use)
    if envelope.daily_limit is not None:
        crossing = daily_limit_crossing(envelope, use.count)
        if crossing is not None:
            raise EnvelopeCrossed(crossing, ref)
    use.count += 1
    session.flush()


def record_refusal(
    db: Database,
    settings: Settings,
    *,
    client_id: str,
    person_id: str,
    refused: EnvelopeCrossed,
    act_type: str,
    amount: int,
    request_id: str,
    actor: Actor,
    now: datetime | None = None,
) -> None:
    """Keep the refusal, tell the client (``delegation.refus``) and, at most
    once per ``REFUSAL_NOTICE_INTERVAL``, the person by e-mail; ``actor``
    (who asked) goes into the audit trail with it."""
    now = now or utcnow()
    with db.transaction() as session:
        # Locked, so that two refusals at once do not both e-mail the person.
        person = session.scalars(
            select(Person).where(Person.id == person_id).with_for_update(key_share=True)
        ).one()
        recent = session.scalar(
            select(func.count())
            .select_from(DelegationRefusal)
            .where(
                DelegationRefusal.person_id == person_id,
                DelegationRefusal.client_id == client_id,
                DelegationRefusal.person_notified.is_(True),
                DelegationRefusal.at > now - REFUSAL_NOTICE_INTERVAL,
            )
        )
        notify = not recent
        session.add(
            DelegationRefusal(
                client_id=client_id,
                person_id=person_id,
                delegation_ref=refused.delegation_ref,
                limit=refused.crossing.limit,
                act_type=act_type,
                amount=amount,
                request_id=request_id,
                person_notified=notify,
                at=now,
            )
        )
        data: dict[str, Any] = {
            "code_09": person.code_09,
            "ref_delegation": refused.delegation_ref,
            "limite": refused.crossing.limit,
            "message": refused.crossing.message,
            "type_acte": act_type,
            "montant": amount,
            "id_requete": request_id,
            "refuse_le": iso_utc(now),
        }
        record_event(
            session,
            client_id=client_id,
            type=types.DELEGATION_REFUS,
            data=data,
            subject=refused.delegation_ref or person.code_09,
            now=now,
        )
        record_audit(
            session,
            actions.DELEGATION_REFUS,
            actor=actor,
            subject=refused.delegation_ref or person.code_09,
            objects={"delegation": refused.delegation_ref, "identite": person.code_09},
            details={
                "limite": refused.crossing.limit,
                "message": refused.crossing.message,
                "type_acte": act_type,
                "montant": amount,
            },
            client_id=client_id,
            request_id=request_id or None,
            now=now,
        )
        if notify:
            event = record_event(
                session,
                client_id=client_id,
                type=types.PERSONNE_DELEGATION_REFUS,
                data={
                    "nom": person.name,
                    "ref_delegation": refused.delegation_ref,
                    "raison": refused.crossing.message,
                    "type_acte": act_type,
                    "montant_affiche": format_amount(amount),
                    "refuse_le_affiche": now.strftime("%d/%m/%Y à %H:%M:%S UTC"),
                    "lien": f"{settings.public_base_url}/signer/delegations",
                },
                subject=refused.delegation_ref or person.code_09,
                webhooks=False,
                now=now,
            )
            queue_email(session, event, person.email, now=now)
    logger.info(
        "delegation.request_refused",
        extra={
            "client_id": client_id,
            "ref": refused.delegation_ref,
            "limit": refused.crossing.limit,
        },
    )
