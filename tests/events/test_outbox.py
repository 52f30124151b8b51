"""The outbox and one worker, driven step by step: signed webhooks verified
with the ``standardwebhooks`` package, retries, ordering, redelivery."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from standardwebhooks import Webhook

from sceau.events import types
from sceau.events.models import STATUS_DELIVERED, STATUS_FAILED, Delivery, Event
from sceau.events.service import emit, redeliver
from sceau.runtime import Runtime
from sceau.webhooks.models import WebhookEndpoint
from sceau.webhooks.service import add_endpoint, current_secret
from sceau.webhooks.signatures import SecretBox
from tests.conftest import Provisioned, sign_body
from tests.support.events import Receiver, Reply, SteppedClock, drain, make_worker

SIGN = "/api/v1/sceau/b2b/signer"


def _box(runtime: Runtime) -> SecretBox:
    return SecretBox(runtime.settings.load_master_key())


def _register(runtime: Runtime, client_id: str, url: str, *events: str) -> str:
    with runtime.db.transaction() as session:
        made = add_endpoint(
            session,
            _box(runtime),
            client_id=client_id,
            url=url,
            event_types=list(events),
            allow_http_loopback=True,
        )
        return made.secret


def _emit_many(runtime: Runtime, client_id: str, count: int) -> list[str]:
    ids = []
    for number in range(count):
        with runtime.db.transaction() as session:
            event = emit(
                session,
                client_id=client_id,
                type=types.HORODATAGE_CONFIRME,
                data={"ref_horodatage": f"HRD-{number:08d}", "numero": number},
            )
            ids.append(event.id)
    return ids


def _count(runtime: Runtime, model: type) -> int:
    with runtime.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_signing_with_callback_url_delivers_a_signed_webhook(
    api: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    pdf: bytes,
    receiver: Receiver,
) -> None:
    response = api.post(
        SIGN,
        json=sign_body(atlanta, pdf, callback_url=receiver.url()),
        headers=atlanta.headers,
    )
    assert response.status_code == 200, response.text
    ref = response.json()["ref_signature"]
    assert receiver.received == []  # nothing is sent on the request path

    assert make_worker(runtime).run_once() == 1

    [endpoint] = api.get("/api/v1/sceau/b2b/webhooks", headers=atlanta.headers).json()
    assert endpoint["origine"] == "callback_url"
    secret = api.get(
        f"/api/v1/sceau/b2b/webhooks/{endpoint['id']}/secret", headers=atlanta.headers
    ).json()["secret"]
    [got] = receiver.received
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "signature.signee"
    assert payload["client"] == atlanta.client_id
    assert payload["data"]["ref_signature"] == ref
    assert payload["data"]["sha256_signe"] == response.json()["sha256_signe"]
    assert got.headers["webhook-id"] == payload["id"]
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"


def test_rolled_back_transaction_leaves_no_event_and_nothing_is_delivered(
    runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    _register(runtime, atlanta.client_id, receiver.url())

    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        emit(
            session,
            client_id=atlanta.client_id,
            type=types.ACTE_CREE,
            data={"ref_acte": "ACT-1"},
        )
        raise RuntimeError("the change that caused the event fails")

    assert _count(runtime, Event) == 0
    assert _count(runtime, Delivery) == 0
    assert drain(make_worker(runtime)) == 0
    assert receiver.received == []


def test_receiver_down_then_back_gets_every_event_in_order_with_stable_ids(
    runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    secret = _register(runtime, atlanta.client_id, receiver.url())
    ids = _emit_many(runtime, atlanta.client_id, 5)
    receiver.replies = [Reply(503), Reply(503), Reply(500), Reply(502)]
    clock = SteppedClock()
    worker = make_worker(runtime, clock)

    # Each failure holds the destination: later events wait behind the first.
    for delay in runtime.settings.webhook_retry_schedule[:4]:
        assert worker.run_once() == 1
        assert worker.run_once() == 0  # not due yet
        clock.advance(seconds=delay + 1)
    drain(worker)

    assert receiver.ids() == [ids[0]] * 5 + ids[1:]
    for got in receiver.received:
        Webhook(secret).verify(got.body, got.headers)
    assert len({r.body for r in receiver.received[:5]}) == 1  # same bytes each time
    with runtime.db.sessions() as session:
        statuses = session.scalars(select(Delivery.status)).all()
        first = session.scalars(select(Delivery).order_by(Delivery.seq)).first()
    assert set(statuses) == {STATUS_DELIVERED}
    assert first is not None and first.attempts == 5 and first.last_status == 200


def test_retries_stop_after_the_last_attempt_of_the_schedule(
    runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    _register(runtime, atlanta.client_id, receiver.url())
    _emit_many(runtime, atlanta.client_id, 1)
    receiver.default = Reply(500)
    clock = SteppedClock()
    worker = make_worker(runtime, clock)
    schedule = runtime.settings.webhook_retry_schedule
    assert sum(schedule) / 86400 == pytest.approx(3.1, abs=0.2)  # about three days

    for delay in [*schedule, 0]:
        worker.run_once()
        clock.advance(seconds=delay + 1)

    assert len(receiver.received) == 1 + len(schedule)
    with runtime.db.sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
        attempts = session.execute(
            select(func.count()).select_from(Delivery).where(Delivery.seq > 0)
        ).scalar()
    assert delivery.status == STATUS_FAILED
    assert delivery.attempts == 1 + len(schedule)
    assert delivery.last_error == "réponse HTTP 500"
    assert attempts == 1


def test_retry_after_pushes_the_next_attempt_back(
    runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    _register(runtime, atlanta.client_id, receiver.url())
    _emit_many(runtime, atlanta.client_id, 1)
    receiver.replies = [Reply(429, {"Retry-After": "120"})]
    clock = SteppedClock()
    worker = make_worker(runtime, clock)

    worker.run_once()
    clock.advance(seconds=60)  # past the schedule's 5 s, not past Retry-After
    assert worker.run_once() == 0
    clock.advance(seconds=61)
    assert worker.run_once() == 1
    assert len(receiver.received) == 2


def test_gone_disables_the_endpoint_and_tells_the_contact(
    runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    from sceau.notifications.service import set_contact

    with runtime.db.transaction() as session:
        set_contact(session, atlanta.client_id, email="tech@atlanta.example.ci")
    _register(runtime, atlanta.client_id, receiver.url())
    _emit_many(runtime, atlanta.client_id, 3)
    receiver.replies = [Reply(410)]

    drain(make_worker(runtime))

    assert len(receiver.received) == 1
    with runtime.db.sessions() as session:
        endpoint = session.scalars(select(WebhookEndpoint)).one()
        deliveries = session.scalars(select(Delivery).order_by(Delivery.seq)).all()
    assert not endpoint.active and endpoint.disabled_reason == "réponse 410 Gone"
    assert [d.status for d in deliveries[:3]] == ["echec", "abandonne", "abandonne"]
    assert deliveries[3].channel == "email"
    assert deliveries[3].recipient == "tech@atlanta.example.ci"
    assert deliveries[3].status == STATUS_DELIVERED  # sent to the SMTP fixture


def test_an_endpoint_failing_for_five_days_is_disabled(
    runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    _register(runtime, atlanta.client_id, receiver.url())
    receiver.default = Reply(503)
    clock = SteppedClock()
    worker = make_worker(runtime, clock)

    for _day in range(8):
        _emit_many(runtime, atlanta.client_id, 1)
        for _ in range(8):
            clock.advance(hours=3)
            worker.run_once()

    with runtime.db.sessions() as session:
        endpoint = session.scalars(select(WebhookEndpoint)).one()
        notice = session.scalars(
            select(Event).where(Event.type == types.WEBHOOK_DESACTIVE)
        ).one()
    assert not endpoint.active
    assert endpoint.disabled_reason == "en échec depuis 5 jours"
    assert json.loads(notice.payload)["data"]["webhook"] == endpoint.id


def test_redelivery_sends_the_same_event_with_the_same_webhook_id(
    runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    _register(runtime, atlanta.client_id, receiver.url())
    [event_id] = _emit_many(runtime, atlanta.client_id, 1)
    worker = make_worker(runtime)
    drain(worker)

    with runtime.db.transaction() as session:
        first = session.scalars(select(Delivery)).one()
        again = redeliver(session, first.id, atlanta.client_id)
    drain(worker)

    assert again.id != first.id
    assert receiver.ids() == [event_id, event_id]
    assert receiver.received[0].body == receiver.received[1].body


def test_rotation_signs_with_both_secrets_during_the_overlap(
    runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    from datetime import timedelta

    from sceau.webhooks.service import get_endpoint, list_endpoints, rotate_secret

    old = _register(runtime, atlanta.client_id, receiver.url())
    with runtime.db.transaction() as session:
        [endpoint] = list_endpoints(session, atlanta.client_id)
        new = rotate_secret(
            session,
            _box(runtime),
            get_endpoint(session, endpoint.id),
            timedelta(hours=1),
        )
        assert current_secret(session, _box(runtime), endpoint) == new
    _emit_many(runtime, atlanta.client_id, 1)

    drain(make_worker(runtime))

    [got] = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(got.body, got.headers)
    Webhook(new).verify(got.body, got.headers)


def test_background_loop_delivers_without_being_stepped(
    runtime: Runtime, atlanta: Provisioned, pdf: bytes, receiver: Receiver
) -> None:
    settings = runtime.settings.model_copy(update={"worker_poll_seconds": 0.05})
    from sceau.app import create_app

    with TestClient(create_app(settings, runtime, delivery_worker=True)) as client:
        response = client.post(
            SIGN,
            json=sign_body(atlanta, pdf, callback_url=receiver.url()),
            headers=atlanta.headers,
        )
        assert response.status_code == 200
        receiver.wait_for(1, timeout=10)

    assert json.loads(receiver.received[0].body)["type"] == "signature.signee"
