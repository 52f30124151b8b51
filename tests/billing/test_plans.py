"""Plans over time: a change takes effect the next month and is recorded;
a notary's free period ends twelve months after the first signature, with
notices 30 and 7 days ahead, sent once each."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from sceau.audit.actors import Actor
from sceau.billing import notices
from sceau.billing.errors import InvalidTerms, UnknownPlan
from sceau.billing.invoices import close_month, month_lines
from sceau.billing.models import UsageRecord
from sceau.billing.service import (
    free_period_end,
    plan_for_month,
    plan_history,
    schedule_plan_change,
    terms_for_month,
)
from sceau.clients.models import Client
from sceau.events.models import CHANNEL_EMAIL, Delivery, Event
from sceau.events.worker import standard_chores
from sceau.notifications.service import set_contact
from sceau.runtime import Runtime
from tests.billing.conftest import client_on, metered

MID_NOVEMBER = datetime(2026, 11, 14, 16, 30, tzinfo=UTC)
AFTER_DECEMBER = datetime(2027, 1, 2, tzinfo=UTC)
CONTACT = "etude.kone@notaires.example.ci"


def test_a_mid_month_change_takes_effect_the_next_month(runtime: Runtime) -> None:
    client = client_on(runtime, "Cabinet Yao", "pay_as_you_go")
    metered(runtime, client, 10, datetime(2026, 11, 2, tzinfo=UTC))
    with runtime.db.transaction() as session:
        change = schedule_plan_change(
            session,
            client.client_id,
            "forfait",
            actor="operateur:awa",
            now=MID_NOVEMBER,
            by=Actor.operator(),
        )
    metered(runtime, client, 10, datetime(2026, 11, 20, tzinfo=UTC))
    metered(runtime, client, 10, datetime(2026, 12, 3, tzinfo=UTC))

    assert change.effective_month == "2026-12"
    with runtime.db.sessions() as session:
        assert plan_for_month(session, client.client_id, "2026-10") == "pay_as_you_go"
        assert plan_for_month(session, client.client_id, "2026-11") == "pay_as_you_go"
        assert plan_for_month(session, client.client_id, "2026-12") == "forfait"
        (recorded,) = plan_history(session, client.client_id)
        plans = set(session.scalars(select(UsageRecord.plan)))
    assert (recorded.actor, recorded.created_at, recorded.previous_plan) == (
        "operateur:awa",
        MID_NOVEMBER,
        "pay_as_you_go",
    )
    assert plans == {"pay_as_you_go", "forfait"}

    november, december = (
        close_month(runtime, month, now=AFTER_DECEMBER, by=Actor.operator())
        for month in ("2026-11", "2026-12")
    )
    assert [(i.plan, i.total_xof) for i in november] == [("pay_as_you_go", 3_000)]
    # December owes the forfait's fee whole, its ten signatures included. No
    # heartbeat was ever recorded, so no availability is measured and no SLA
    # credit earned: credits are tested in test_invoices.py.
    assert [(i.plan, i.total_xof) for i in december] == [("forfait", 25_000)]


def test_the_plan_of_a_month_costs_one_query_on_the_plan_changes(
    runtime: Runtime,
) -> None:
    steady = client_on(runtime, "Cabinet Yao", "pay_as_you_go")
    moving = client_on(runtime, "Etude Bamba", "pay_as_you_go")
    with runtime.db.transaction() as session:
        for plan, month in (("forfait", "2026-12"), ("pay_as_you_go", "2027-03")):
            schedule_plan_change(
                session,
                moving.client_id,
                plan,
                actor="operateur:awa",
                effective_month=month,
                now=MID_NOVEMBER,
                by=Actor.operator(),
            )
    statements: list[str] = []

    def count(*args: object) -> None:
        # Queries only: SQLite's own BEGIN is no query.
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            statements.append(str(args[2]))

    event.listen(runtime.db.engine, "before_cursor_execute", count)
    try:
        with runtime.db.sessions() as session:
            plans = [
                plan_for_month(session, moving.client_id, month)
                for month in ("2026-11", "2026-12", "2027-02", "2027-03")
            ]
            moving_statements = len(statements)
            assert plan_for_month(session, steady.client_id, "2026-12") == (
                "pay_as_you_go"
            )
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", count)

    assert plans == ["pay_as_you_go", "forfait", "forfait", "pay_as_you_go"]
    # One query per call with changes; the client's row only without any.
    assert moving_statements == 4
    assert len(statements) == 6
    assert all("plan_changes" in sql for sql in statements[:5])
    assert "FROM clients" in statements[5]


def test_enterprise_terms_are_the_clients_own_and_required(runtime: Runtime) -> None:
    client = client_on(runtime, "Banque Atlantique", "pay_as_you_go")
    with runtime.db.transaction() as session:
        with pytest.raises(InvalidTerms):
            schedule_plan_change(
                session,
                client.client_id,
                "enterprise",
                actor="operateur:awa",
                by=Actor.operator(),
            )
        with pytest.raises(InvalidTerms):
            schedule_plan_change(
                session,
                client.client_id,
                "forfait",
                actor="operateur:awa",
                unit_price_xof=80,
                by=Actor.operator(),
            )
        with pytest.raises(UnknownPlan) as unknown:
            schedule_plan_change(
                session, client.client_id, "illimite", actor="x", by=Actor.operator()
            )
        schedule_plan_change(
            session,
            client.client_id,
            "enterprise",
            actor="operateur:awa",
            now=MID_NOVEMBER,
            unit_price_xof=80,
            monthly_fee_xof=400_000,
            included_signatures=6_000,
            by=Actor.operator(),
        )
    assert unknown.value.code == "formule_inconnue"

    with runtime.db.sessions() as session:
        terms = terms_for_month(session, runtime.settings, client.client_id, "2026-12")
    assert (terms.unit_price_xof, terms.monthly_fee_xof, terms.included) == (
        80,
        400_000,
        6_000,
    )


def test_the_free_period_ends_mid_month_signatures_after_it_are_billed(
    runtime: Runtime,
) -> None:
    notary = client_on(runtime, "Etude Kone", "gratuit_notaire")
    first = datetime(2025, 11, 18, 10, 0, tzinfo=UTC)
    metered(runtime, notary, 1, first)
    # 2026-11: three before the end (the 18th, 10:00), two after it.
    metered(runtime, notary, 3, datetime(2026, 11, 18, 9, 59, 57, tzinfo=UTC))
    metered(runtime, notary, 2, datetime(2026, 11, 25, tzinfo=UTC))
    metered(runtime, notary, 4, datetime(2026, 12, 1, tzinfo=UTC))

    with runtime.db.sessions() as session:
        assert free_period_end(session, runtime.settings, notary.client_id) == datetime(
            2026, 11, 18, 10, 0, tzinfo=UTC
        )
        lines = month_lines(session, runtime.settings, notary.client_id, "2026-11")
    assert [(line.plan, line.quantity, line.amount_xof) for line in lines] == [
        ("gratuit_notaire", 3, 0),
        ("pay_as_you_go", 2, 300),
    ]

    (november,) = close_month(
        runtime, "2026-11", now=AFTER_DECEMBER, by=Actor.operator()
    )
    (december,) = close_month(
        runtime, "2026-12", now=AFTER_DECEMBER, by=Actor.operator()
    )
    assert (november.plan, november.total_xof) == ("gratuit_notaire", 300)
    assert (december.plan, december.total_xof) == ("pay_as_you_go", 600)
    assert [line["montant_xof"] for line in json.loads(november.lines)] == [0, 300]


def test_the_free_period_notices_go_out_30_and_7_days_ahead_once_each(
    runtime: Runtime,
) -> None:
    notary = client_on(runtime, "Etude Kone", "gratuit_notaire")
    with runtime.db.transaction() as session:
        set_contact(session, notary.client_id, email=CONTACT)
        schedule_plan_change(
            session,
            notary.client_id,
            "gratuit_notaire",
            actor="operateur:awa",
            now=datetime(2025, 10, 1, tzinfo=UTC),
            after_plan="forfait",
            by=Actor.operator(),
        )
    metered(runtime, notary, 1, datetime(2025, 11, 18, 10, 0, tzinfo=UTC))
    end = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
    db, settings = runtime.db, runtime.settings

    assert notices.sweep(db, settings, end - timedelta(days=31)) == 0
    thirty = end - timedelta(days=30)
    with ThreadPoolExecutor(4) as pool:
        sent = list(pool.map(lambda _: notices.sweep(db, settings, thirty), range(4)))
    assert sum(sent) == 1
    assert notices.sweep(db, settings, end - timedelta(days=20)) == 0
    assert notices.sweep(db, settings, end - timedelta(days=7)) == 1
    assert notices.sweep(db, settings, end - timedelta(days=1)) == 0

    with runtime.db.sessions() as session:
        events = list(
            session.scalars(
                select(Event)
                .where(Event.type == notices.FREE_PERIOD_ENDING)
                .order_by(Event.seq)
            )
        )
        mails = list(
            session.scalars(select(Delivery).where(Delivery.channel == CHANNEL_EMAIL))
        )
    assert [json.loads(e.payload)["data"] for e in events] == [
        {
            "fin_periode_gratuite": "2026-11-18T10:00:00Z",
            "jours_restants": days,
            "formule_suivante": "forfait",
        }
        for days in (30, 7)
    ]
    assert [m.recipient for m in mails] == [CONTACT, CONTACT]

    # Once over, the move to the next plan is recorded, for the next month.
    assert notices.sweep(db, settings, end + timedelta(minutes=5)) == 1
    assert notices.sweep(db, settings, end + timedelta(minutes=10)) == 0
    with runtime.db.sessions() as session:
        moved = plan_history(session, notary.client_id)[-1]
        assert plan_for_month(session, notary.client_id, "2026-12") == "forfait"
    assert (moved.plan, moved.effective_month, moved.actor) == (
        "forfait",
        "2026-12",
        notices.SYSTEM_ACTOR,
    )

    # On the first of December, clients.plan follows.
    notices.sweep(db, settings, datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
    with runtime.db.sessions() as session:
        assert session.get_one(Client, notary.client_id).plan == "forfait"


def test_every_worker_loop_sweeps_the_free_periods(runtime: Runtime) -> None:
    names = [c.name for c in standard_chores(runtime.db, runtime.settings)]

    assert "billing.free_periods" in names
