"""Plans in force, their history, and the metering of signatures.

``record_usage`` runs inside the signing transaction (``sign_and_record``):
a signature is billed exactly when it is stored, never when it fails, and a
replayed idempotent request, which signs nothing, is not billed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.billing.errors import InvalidTerms, UnknownPlan
from sceau.billing.models import PlanChange, UsageRecord
from sceau.billing.months import add_months, month_of, next_month, shift_month
from sceau.billing.pricing import (
    AFTER_FREE_PLANS,
    ENTERPRISE,
    GRATUIT_NOTAIRE,
    Terms,
    standard_terms,
)
from sceau.clients.errors import ClientNotFound
from sceau.clients.models import Client
from sceau.clients.service import PLANS, record_client_change
from sceau.db import utcnow
from sceau.settings import Settings
from sceau.signing.models import SignatureRecord

# Pixel Sceau's own documents (reports, invoices) are signed by its client
# ``sceau.documents.sealing.SERVICE_CLIENT_ID``; they are never billed. The
# name is repeated here because sealing imports the pipeline, which imports
# this module (a test checks that both agree).
UNBILLED_CLIENTS = frozenset({"cli_pixelsceau"})
MAX_ACTOR = 120


@dataclass(frozen=True)
class MonthUsage:
    month: str
    signatures: int
    by_mode: dict[str, int]


def record_usage(session: Session, record: SignatureRecord) -> None:
    """One usage row for a signature just stored, with its mode and the plan
    in force for its client that month."""
    if record.client_id in UNBILLED_CLIENTS:
        return
    month = month_of(record.signed_at)
    session.add(
        UsageRecord(
            signature_ref=record.ref,
            client_id=record.client_id,
            month=month,
            mode=record.mode,
            plan=plan_for_month(session, record.client_id, month),
            signed_at=record.signed_at,
        )
    )


def usage_by_month(
    session: Session,
    client_id: str,
    *,
    months: int = 12,
    now: datetime | None = None,
) -> list[MonthUsage]:
    """The last ``months`` months, oldest first, the current one last."""
    current = month_of(now or utcnow())
    wanted = [shift_month(current, -back) for back in range(months - 1, -1, -1)]
    counts: dict[str, dict[str, int]] = {month: {} for month in wanted}
    rows = session.execute(
        select(UsageRecord.month, UsageRecord.mode, func.count())
        .where(
            UsageRecord.client_id == client_id,
            UsageRecord.month >= wanted[0],
            UsageRecord.month <= current,
        )
        .group_by(UsageRecord.month, UsageRecord.mode)
    )
    for month, mode, count in rows:
        counts[month][mode] = int(count)
    return [
        MonthUsage(
            month, sum(counts[month].values()), dict(sorted(counts[month].items()))
        )
        for month in wanted
    ]


def month_signatures(
    session: Session, client_id: str, month: str
) -> list[tuple[datetime, str]]:
    """(signed at, mode) of each signature a client made in ``month``."""
    rows = session.execute(
        select(UsageRecord.signed_at, UsageRecord.mode).where(
            UsageRecord.client_id == client_id, UsageRecord.month == month
        )
    )
    return [(signed_at, mode) for signed_at, mode in rows]


# -- plans ---------------------------------------------------------------------


def plan_changes(session: Session, client_id: str) -> list[PlanChange]:
    """Every plan change of a client, in the order they apply: by month, then
    as recorded. One query; a client has a handful in its life."""
    return list(
        session.scalars(
            select(PlanChange)
            .where(PlanChange.client_id == client_id)
            .order_by(PlanChange.effective_month, PlanChange.id)
        )
    )


def _governing(changes: list[PlanChange], month: str) -> PlanChange | None:
    """Of ``changes`` in the order they apply, the last one in force by
    ``month``."""
    governing = None
    for change in changes:
        if change.effective_month > month:
            break
        governing = change
    return governing


def governing_change(session: Session, client_id: str, month: str) -> PlanChange | None:
    """The change that set the plan of ``month``; None before any."""
    return _governing(plan_changes(session, client_id), month)


def plan_for_month(session: Session, client_id: str, month: str) -> str:
    """The plan in force for ``client_id`` during ``month``, from its history.

    It is read for every signature, in the signing transaction: one query on
    the client's changes, and the client's row only when there is none.
    """
    changes = plan_changes(session, client_id)
    change = _governing(changes, month)
    if change is not None:
        return change.plan
    if changes:
        # Before the first change: the plan it replaced.
        return changes[0].previous_plan

    client = session.get(Client, client_id)
    if client is None:
        raise ClientNotFound()
    return client.plan


def terms_for_month(
    session: Session, settings: Settings, client_id: str, month: str
) -> Terms:
    """The prices of the plan in force during ``month``."""
    plan = plan_for_month(session, client_id, month)
    if plan != ENTERPRISE:
        return standard_terms(plan, settings)
    change = governing_change(session, client_id, month)
    if change is None or change.unit_price_xof is None:
        # An enterprise client made so at creation, before any contract was
        # entered: billed at the pay-as-you-go price until its terms are set.
        return Terms(ENTERPRISE, settings.billing_pay_as_you_go_unit_xof)
    return Terms(
        ENTERPRISE,
        change.unit_price_xof,
        change.monthly_fee_xof or 0,
        change.included_signatures or 0,
    )


def after_free_plan(
    session: Session, settings: Settings, client_id: str, month: str
) -> str:
    """The plan a gratuit_notaire client moves to at the end of its period."""
    change = governing_change(session, client_id, month)
    if change is not None and change.after_plan:
        return change.after_plan
    return settings.billing_after_free_plan


def first_signature_at(session: Session, client_id: str) -> datetime | None:
    return session.scalar(
        select(UsageRecord.signed_at)
        .where(UsageRecord.client_id == client_id)
        .order_by(UsageRecord.signed_at)
        .limit(1)
    )


def free_period_end(
    session: Session, settings: Settings, client_id: str
) -> datetime | None:
    """When a gratuit_notaire client's free period ends: its first signature
    plus ``billing_free_months``; None before its first signature."""
    first = first_signature_at(session, client_id)
    if first is None:
        return None
    return add_months(first, settings.billing_free_months)


def schedule_plan_change(
    session: Session,
    client_id: str,
    plan: str,
    *,
    actor: str,
    now: datetime | None = None,
    unit_price_xof: int | None = None,
    monthly_fee_xof: int | None = None,
    included_signatures: int | None = None,
    after_plan: str | None = None,
    effective_month: str | None = None,
    by: Actor,
) -> PlanChange:
    """Move ``client_id`` to ``plan`` on the first day of next month (UTC).

    ``effective_month`` is for the end of a free period, which takes effect
    the month after it, whenever the sweep notices it. ``by`` is who decides,
    for the audit trail.
    """
    now = now or utcnow()
    if plan not in PLANS:
        raise UnknownPlan()
    _check_terms(plan, unit_price_xof, monthly_fee_xof, included_signatures)
    if after_plan is not None and (
        plan != GRATUIT_NOTAIRE or after_plan not in AFTER_FREE_PLANS
    ):
        raise UnknownPlan(
            "Seule la formule gratuit_notaire prend une formule suivante : "
            "pay_as_you_go ou forfait."
        )
    current = month_of(now)
    change = PlanChange(
        client_id=client_id,
        plan=plan,
        previous_plan=plan_for_month(session, client_id, current),
        effective_month=effective_month or next_month(current),
        actor=actor.strip()[:MAX_ACTOR] or "operateur",
        created_at=now,
        unit_price_xof=unit_price_xof,
        monthly_fee_xof=monthly_fee_xof,
        included_signatures=included_signatures,
        after_plan=after_plan,
    )
    session.add(change)
    session.flush()
    record_client_change(
        session,
        actions.CLIENT_FORMULE_MODIFIEE,
        client_id,
        by,
        change.previous_plan,
        plan,
        now=now,
        a_partir_de=change.effective_month,
        prix_unitaire_xof=unit_price_xof,
        redevance_mensuelle_xof=monthly_fee_xof,
        signatures_incluses=included_signatures,
        formule_suivante=after_plan,
    )
    return change


def plan_history(session: Session, client_id: str) -> list[PlanChange]:
    return list(
        session.scalars(
            select(PlanChange)
            .where(PlanChange.client_id == client_id)
            .order_by(PlanChange.id)
        )
    )


def _check_terms(plan: str, *terms: int | None) -> None:
    if plan != ENTERPRISE:
        if any(term is not None for term in terms):
            raise InvalidTerms()
        return
    if any(
        term is None or isinstance(term, bool) or not isinstance(term, int) or term < 0
        for term in terms
    ):
        raise InvalidTerms()
