"""The yearly review notice: sent once per version, 30 days ahead, by event
and by e-mail to the client's contact, however many workers sweep."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import select

from sceau.authority.models import AuthorityMatrix
from sceau.authority.review import send_review_notices
from sceau.events.models import CHANNEL_EMAIL, Delivery, Event
from sceau.events.worker import standard_chores
from sceau.notifications.service import set_contact
from sceau.runtime import Runtime
from tests.authority.conftest import START, TODAY, days, publish, set_catalogue
from tests.conftest import Provisioned
from tests.people.conftest import deliver_mail
from tests.support.events import Mailbox

RULES = [{"type_acte": "attestation", "mode": "systeme"}]
DUE = TODAY + days(31)
CONTACT = "conformite@atlanta.example.ci"


def notices(runtime: Runtime) -> list[Event]:
    with runtime.db.sessions() as session:
        return list(
            session.scalars(
                select(Event)
                .where(Event.type == "matrice.revue_proche")
                .order_by(Event.seq)
            )
        )


def emails(runtime: Runtime) -> list[Delivery]:
    with runtime.db.sessions() as session:
        return list(
            session.scalars(select(Delivery).where(Delivery.channel == CHANNEL_EMAIL))
        )


def with_contact(runtime: Runtime, client: Provisioned) -> None:
    with runtime.db.transaction() as session:
        set_contact(session, client.client_id, email=CONTACT)


def test_the_notice_goes_out_thirty_days_before_and_only_once(
    runtime: Runtime,
    atlanta: Provisioned,
    catalogue: dict[str, str],
    mailbox: Mailbox,
) -> None:
    with_contact(runtime, atlanta)
    publish(runtime, atlanta, RULES, review_due=DUE, policy="refuser")
    thirty_days_before = START + days(1)

    assert send_review_notices(runtime.db, START) == 0
    assert send_review_notices(runtime.db, thirty_days_before) == 1
    assert send_review_notices(runtime.db, thirty_days_before + days(1)) == 0

    (event,) = notices(runtime)
    payload = json.loads(event.payload)
    assert event.client_id == atlanta.client_id
    assert payload["data"] == {
        "version_matrice": 1,
        "revue_le": "2027-01-04",
        "politique": "refuser",
    }
    assert [d.recipient for d in emails(runtime)] == [CONTACT]
    with runtime.db.sessions() as session:
        row = session.scalars(select(AuthorityMatrix)).one()
    assert row.review_notice_at == thirty_days_before

    deliver_mail(runtime, thirty_days_before)
    (message,) = mailbox.messages
    assert message["To"] == CONTACT
    assert message["Subject"] == (
        "[Pixel Sceau] Revue de votre matrice d'autorité avant le 2027-01-04"
    )
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "(version 1)" in text
    assert "matrice_a_revoir" in text


def test_two_workers_sweeping_at_once_send_one_notice(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    with_contact(runtime, atlanta)
    publish(runtime, atlanta, RULES, review_due=DUE)
    start = threading.Barrier(2, timeout=30)
    at = START + days(2)

    def sweep(_: int) -> int:
        start.wait()
        return send_review_notices(runtime.db, at)

    with ThreadPoolExecutor(max_workers=2) as pool:
        sent = sorted(pool.map(sweep, range(2)))

    assert sent == [0, 1]
    assert len(notices(runtime)) == 1
    assert len(emails(runtime)) == 1


def test_a_replaced_version_is_not_noticed_and_a_new_one_is(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    publish(runtime, atlanta, RULES, review_due=DUE)
    publish(runtime, atlanta, RULES, review_due=TODAY + days(200))
    at = START + days(5)

    assert send_review_notices(runtime.db, at) == 0

    later: datetime = START + days(171)
    assert send_review_notices(runtime.db, later) == 1
    (event,) = notices(runtime)
    assert json.loads(event.payload)["data"]["version_matrice"] == 2


def test_without_contact_address_the_notice_is_an_event_only(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    publish(runtime, atlanta, RULES, review_due=TODAY + days(3))

    assert send_review_notices(runtime.db, START) == 1
    assert len(notices(runtime)) == 1
    assert emails(runtime) == []


def test_each_client_is_told_of_its_own_matrix(
    runtime: Runtime,
    atlanta: Provisioned,
    beta: Provisioned,
    catalogue: dict[str, str],
) -> None:
    set_catalogue(runtime, beta)
    publish(runtime, atlanta, RULES, review_due=TODAY + days(3))
    publish(runtime, beta, RULES, review_due=TODAY + days(100))

    assert send_review_notices(runtime.db, START) == 1
    assert [e.client_id for e in notices(runtime)] == [atlanta.client_id]


def test_every_worker_loop_sends_the_notices(runtime: Runtime) -> None:
    chores = standard_chores(runtime.db, runtime.settings)

    assert "authority.review_notices" in [chore.name for chore in chores]
