"""Overdue acts expire (``acte.expire``) and their person is reminded once
per threshold, whatever the number of sweeps, at a frozen time."""

from __future__ import annotations

from datetime import timedelta

from sceau.acts.sweeper import sweep_acts
from sceau.runtime import Runtime
from tests.acts.conftest import act_row, events_of, new_act
from tests.conftest import Provisioned
from tests.people.conftest import START, Registered, deliver_mail
from tests.support.events import Mailbox


def test_sweep_reminds_once_then_expires_once(
    runtime: Runtime, atlanta: Provisioned, notary: Registered, mailbox: Mailbox
) -> None:
    expires = START + timedelta(days=3)
    ref = new_act(runtime, atlanta, notary, expires_at=expires).act.ref
    db, settings = runtime.db, runtime.settings

    early = sweep_acts(db, settings, START + timedelta(days=1))
    day_before = expires - timedelta(hours=23)
    reminded = sweep_acts(db, settings, day_before)
    again = sweep_acts(db, settings, day_before + timedelta(hours=1))
    deliver_mail(runtime, day_before)
    overdue = expires + timedelta(seconds=1)
    expired = sweep_acts(db, settings, overdue)
    after = sweep_acts(db, settings, overdue + timedelta(hours=1))

    assert (early.reminded, early.expired) == (0, 0)
    assert (reminded.reminded, again.reminded) == (1, 0)
    assert (expired.expired, after.expired) == (1, 0)
    assert len(events_of(runtime, ref, "personne.acte_rappel")) == 1
    reminders = [
        m for m in mailbox.messages if m["Subject"].startswith("[Pixel Sceau] Rappel")
    ]
    assert [m["To"] for m in reminders] == [notary.email]
    assert len(events_of(runtime, ref, "acte.expire")) == 1
    row = act_row(runtime, ref)
    assert row.status == "expire" and row.decided_at == expires


def test_an_act_made_inside_the_reminder_window_is_not_reminded_at_once(
    runtime: Runtime, atlanta: Provisioned, notary: Registered
) -> None:
    ref = new_act(
        runtime, atlanta, notary, expires_at=START + timedelta(hours=12)
    ).act.ref

    swept = sweep_acts(runtime.db, runtime.settings, START + timedelta(minutes=1))

    assert swept.reminded == 0
    assert events_of(runtime, ref, "personne.acte_rappel") == []
