"""E-mail notices through a real SMTP server (aiosmtpd), retried through
the outbox with the same Message-ID."""

from __future__ import annotations

from sqlalchemy import select

from sceau.events import types
from sceau.events.models import STATUS_DELIVERED, Delivery, DeliveryAttempt
from sceau.events.service import queue_email, record_event
from sceau.events.worker import DeliveryWorker
from sceau.notifications.service import set_contact
from sceau.runtime import Runtime
from sceau.webhooks.signatures import SecretBox
from tests.conftest import Provisioned
from tests.support.events import Mailbox, SteppedClock, drain


def test_a_notice_waits_for_the_smtp_server_and_keeps_its_message_id(
    runtime: Runtime, atlanta: Provisioned, mailbox: Mailbox
) -> None:
    with runtime.db.transaction() as session:
        set_contact(session, atlanta.client_id, email="dg@atlanta.example.ci")
        event = record_event(
            session,
            client_id=atlanta.client_id,
            type=types.ACTE_CREE,
            data={"ref_acte": "ACT-20261203-0001", "signataire": "A. Koné"},
            webhooks=False,
        )
        queue_email(session, event, "dg@atlanta.example.ci")
    down = runtime.settings.model_copy(update={"smtp_port": 1})  # nothing listens
    clock = SteppedClock()
    box = SecretBox(runtime.settings.load_master_key())

    assert DeliveryWorker(runtime.db, down, box, clock=clock).run_once() == 1
    clock.advance(seconds=10)
    drain(DeliveryWorker(runtime.db, runtime.settings, box, clock=clock))

    [message] = mailbox.messages
    with runtime.db.sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
        attempts = session.scalars(select(DeliveryAttempt)).all()
    assert delivery.status == STATUS_DELIVERED
    assert [a.succeeded for a in attempts] == [False, True]
    assert attempts[0].error == "SMTP injoignable : ConnectionRefusedError"
    assert message["Message-ID"] == f"<{delivery.id}@cipixel.com>"
    assert (
        message["Subject"] == "[Pixel Sceau] Un acte attend la signature d'une personne"
    )
    assert message["To"] == "dg@atlanta.example.ci"
    assert message["From"] == "Pixel Sceau <notifications@cipixel.com>"
    plain = message.get_body(("plain",))
    assert plain is not None
    assert "ACT-20261203-0001" in plain.get_content()
    assert "Atlanta Assurances" in plain.get_content()


def test_html_part_escapes_event_data(
    runtime: Runtime, atlanta: Provisioned, mailbox: Mailbox
) -> None:
    with runtime.db.transaction() as session:
        event = record_event(
            session,
            client_id=atlanta.client_id,
            type=types.ACTE_REFUSE,
            data={"motif": "<script>alert(1)</script>"},
            webhooks=False,
        )
        queue_email(session, event, "dg@atlanta.example.ci")
    drain(
        DeliveryWorker(
            runtime.db, runtime.settings, SecretBox(runtime.settings.load_master_key())
        )
    )

    html = mailbox.messages[0].get_body(("html",))
    assert html is not None
    assert "&lt;script&gt;" in html.get_content()
    assert "<script>" not in html.get_content()
