"""Each step of a client's integration is told to the client: an
``integration.etape`` event, and an e-mail to its contact through a real SMTP
server; the pilot's e-mail says what the pilot means for its signatures."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import select

from sceau.audit.actors import Actor
from sceau.events.models import Event
from sceau.lifecycle.service import transition
from sceau.notifications.service import set_contact
from sceau.runtime import Runtime
from tests.conftest import provision
from tests.events.conftest import mailbox, runtime
from tests.lifecycle.test_lifecycle import AGREEMENT
from tests.support.events import Mailbox, drain, make_worker

__all__ = ["mailbox", "runtime"]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def test_every_step_is_told_and_the_pilot_says_its_terms(
    runtime: Runtime, mailbox: Mailbox
) -> None:
    client = provision(runtime, state="cadrage")
    with runtime.db.transaction() as session:
        set_contact(session, client.client_id, email="integration@atlanta.ci")
    for state, agreement in (
        ("convention", AGREEMENT | {"plafond_pilote": 50}),
        ("provisionne", None),
        ("pilote", None),
    ):
        with runtime.db.transaction() as session:
            transition(
                session,
                client.client_id,
                state,
                actor="operateur:awa",
                settings=runtime.settings,
                note="ouverture du pilote" if state == "pilote" else None,
                agreement=agreement,
                by=Actor.operator(),
            )

    drain(make_worker(runtime))

    with runtime.db.sessions() as session:
        events = list(
            session.scalars(
                select(Event)
                .where(Event.type == "integration.etape")
                .order_by(Event.seq)
            )
        )
    assert [event.subject for event in events] == [client.client_id] * 3
    subjects = [str(message["Subject"]) for message in mailbox.messages]
    assert subjects == [
        "[Pixel Sceau] Votre intégration passe à l'étape « convention »",
        "[Pixel Sceau] Votre intégration passe à l'étape « provisionne »",
        "[Pixel Sceau] Votre intégration passe à l'étape « pilote »",
    ]
    pilot = " ".join(text_of(mailbox.messages[-1]).split())
    assert "commence par « PILOTE »" in pilot
    assert "dans la limite de 50 signatures par jour (UTC)" in pilot
    assert "Note : ouverture du pilote" in pilot
    # Who at Pixel Sceau took the step stays with Pixel Sceau.
    assert all("awa" not in text_of(message) for message in mailbox.messages)
