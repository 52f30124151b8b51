"""Each indicator measured from the service's own records, beside the target
of the client's plan, and the credits a missed target earns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, update

from sceau.audit.actors import Actor
from sceau.billing.service import schedule_plan_change
from sceau.events import types
from sceau.events.models import (
    STATUS_DELIVERED,
    STATUS_FAILED,
    Delivery,
    DeliveryAttempt,
)
from sceau.events.service import record_event
from sceau.incidents.service import open_incident
from sceau.notifications.service import set_contact
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.models import SignatureRecord
from sceau.sla.errors import InvalidMonth
from sceau.sla.models import KIND_API, KIND_SIGNING, LATENCY_EDGES_MS
from sceau.sla.recorder import RequestRecorder, record_heartbeat, recorder_for
from sceau.sla.service import (
    API_P95,
    AVAILABILITY,
    CODES,
    INCIDENT_NOTICE,
    SIGNING_P95,
    WEBHOOKS,
    Indicator,
    SlaCredit,
    credits_for,
    indicators,
    month_window,
    series,
)
from sceau.webhooks.service import add_endpoint
from sceau.webhooks.signatures import SecretBox
from tests.conftest import Provisioned, sign_body
from tests.sla.conftest import DEC_1, NOV_1, NOVEMBER, at, set_client

SIGN = "/api/v1/sceau/b2b/signer"


def measured(
    runtime: Runtime, client_id: str, *, month: str = NOVEMBER, now: datetime = DEC_1
) -> dict[str, Indicator]:
    with runtime.db.sessions() as session:
        shown = indicators(session, runtime.settings, client_id, month, now=now)
    return {indicator.code: indicator for indicator in shown}


def credits(runtime: Runtime, client_id: str) -> list[SlaCredit]:
    with runtime.db.sessions() as session:
        return credits_for(session, runtime.settings, client_id, NOVEMBER, now=DEC_1)


def sign(api: TestClient, client: Provisioned, pdf: bytes, count: int) -> list[str]:
    refs = []
    for _ in range(count):
        answer = api.post(SIGN, headers=client.headers, json=sign_body(client, pdf))
        assert answer.status_code == 200, answer.text
        refs.append(answer.json()["ref_signature"])
    return refs


def move_signatures(
    runtime: Runtime, refs: list[str], signed_at: datetime, durations: list[int] | None
) -> None:
    with runtime.db.transaction() as session:
        for index, ref in enumerate(refs):
            values: dict[str, object] = {"signed_at": signed_at}
            if durations is not None:
                values["duration_ms"] = durations[index]
            session.execute(
                update(SignatureRecord)
                .where(SignatureRecord.ref == ref)
                .values(**values)
            )


# -- API response time ---------------------------------------------------------------


def test_api_p95_is_the_upper_edge_of_the_bucket_of_the_95th_request(
    runtime: Runtime, forfait: Provisioned
) -> None:
    recorder = RequestRecorder()
    for second in range(19):
        recorder.observe(forfait.client_id, KIND_API, at(9, 10, 0, second), 40)
    recorder.observe(forfait.client_id, KIND_API, at(9, 10, 1), 2500)
    recorder.flush(runtime.db)

    fast = measured(runtime, forfait.client_id)[API_P95]
    assert (fast.value, fast.unit, fast.target, fast.met) == (50.0, "ms", 800.0, True)

    recorder.observe(forfait.client_id, KIND_API, at(20, 10), 2500)
    recorder.flush(runtime.db)

    slow = measured(runtime, forfait.client_id)[API_P95]
    assert (slow.value, slow.met) == (3000.0, False)
    # No heartbeat was ever recorded: availability is not measured, and
    # earns no credit.
    assert [c.code for c in credits(runtime, forfait.client_id)] == [API_P95]


def test_api_p95_is_measured_on_real_requests_without_signing(
    api: TestClient,
    runtime: Runtime,
    forfait: Provisioned,
    beta: Provisioned,
    pdf: bytes,
    frozen_api: Callable[[datetime], None],
) -> None:
    frozen_api(at(10, 9, 30))
    for _ in range(5):
        api.get("/api/v1/sceau/b2b/types-acte", headers=forfait.headers)
    sign(api, beta, pdf, 2)
    recorder_for(runtime.db).flush(runtime.db)

    assert measured(runtime, forfait.client_id)[API_P95].value in LATENCY_EDGES_MS
    # Beta only signed: it has no API response time, and its signing
    # requests were counted as such.
    assert measured(runtime, beta.client_id)[API_P95].value is None


# -- signing time -------------------------------------------------------------------


def test_signing_p95_comes_from_the_signatures_records(
    api: TestClient, runtime: Runtime, forfait: Provisioned, pdf: bytes
) -> None:
    refs = sign(api, forfait, pdf, 3)
    move_signatures(runtime, refs, at(14, 11), None)
    with runtime.db.sessions() as session:
        recorded = sorted(
            session.scalars(
                select(SignatureRecord.duration_ms).where(SignatureRecord.ref.in_(refs))
            )
        )

    # Nearest rank: the 95th percentile of three is the third.
    shown = measured(runtime, forfait.client_id)[SIGNING_P95]
    assert (shown.value, shown.target) == (float(recorded[2]), 3000.0)

    move_signatures(runtime, refs, at(14, 11), [100, 200, 4000])

    assert measured(runtime, forfait.client_id)[SIGNING_P95].met is False
    assert SlaCredit(SIGNING_P95, shown.label, 5) in credits(runtime, forfait.client_id)


def test_signatures_of_another_month_or_client_do_not_count(
    api: TestClient,
    runtime: Runtime,
    forfait: Provisioned,
    beta: Provisioned,
    pdf: bytes,
) -> None:
    october = sign(api, forfait, pdf, 1)
    move_signatures(runtime, october, at(1) - timedelta(seconds=1), [9000])
    of_beta = sign(api, beta, pdf, 1)
    move_signatures(runtime, of_beta, at(3), [9000])

    assert measured(runtime, forfait.client_id)[SIGNING_P95].value is None
    assert measured(runtime, beta.client_id)[SIGNING_P95].value == 9000.0


# -- availability -------------------------------------------------------------------


def test_availability_counts_minutes_healthy_and_without_server_errors(
    runtime: Runtime, forfait: Provisioned, beta: Provisioned
) -> None:
    # An hour measured (now is 01:00): 57 healthy beats, one unhealthy, two
    # minutes without a beat; Atlanta had a 5xx in one healthy minute.
    with runtime.db.transaction() as session:
        for minute in range(58):
            record_heartbeat(session, at(1, 0, minute, 10), healthy=minute != 7)
    recorder = RequestRecorder()
    recorder.observe(
        forfait.client_id, KIND_SIGNING, at(1, 0, 12), 900, server_error=True
    )
    recorder.observe(forfait.client_id, KIND_API, at(1, 0, 12), 30, server_error=True)
    # A 5xx in a minute already unhealthy costs nothing more.
    recorder.observe(forfait.client_id, KIND_API, at(1, 0, 7), 30, server_error=True)
    recorder.flush(runtime.db)
    now = at(1, 1, 0, 30)

    atlanta_availability = measured(runtime, forfait.client_id, now=now)[AVAILABILITY]
    assert atlanta_availability.value == round(100 * 56 / 60, 3)
    assert (atlanta_availability.target, atlanta_availability.met) == (99.5, False)
    assert measured(runtime, beta.client_id, now=now)[AVAILABILITY].value == round(
        100 * 57 / 60, 3
    )


def test_availability_starts_at_the_clients_creation(
    runtime: Runtime, forfait: Provisioned
) -> None:
    set_client(runtime, forfait.client_id, created_at=at(1, 0, 30, 40))
    with runtime.db.transaction() as session:
        for minute in range(30, 60):
            record_heartbeat(session, at(1, 0, minute), healthy=True)

    shown = measured(runtime, forfait.client_id, now=at(1, 1))[AVAILABILITY]
    assert (shown.value, shown.met) == (100.0, True)
    # Nothing is measured of a month not yet begun, nor before the client was.
    december = measured(runtime, forfait.client_id, month="2026-12", now=at(30))
    assert december[AVAILABILITY].value is None
    october = measured(runtime, forfait.client_id, month="2026-10")
    assert october[AVAILABILITY].value is None


def test_availability_is_not_measured_before_any_heartbeat(
    runtime: Runtime, forfait: Provisioned
) -> None:
    recorder = RequestRecorder()
    recorder.observe(forfait.client_id, KIND_API, at(3, 9), 30, server_error=True)
    recorder.flush(runtime.db)

    shown = measured(runtime, forfait.client_id)[AVAILABILITY]
    assert (shown.value, shown.target, shown.met) == (None, 99.5, None)
    assert credits(runtime, forfait.client_id) == []


def test_availability_starts_at_the_first_heartbeat_ever_recorded(
    runtime: Runtime, forfait: Provisioned
) -> None:
    # The service was deployed on the 10th at noon: 58 healthy beats of the
    # first hour, then two minutes missing, which count as down.
    with runtime.db.transaction() as session:
        for minute in range(58):
            record_heartbeat(session, at(10, 12, minute), healthy=True)

    shown = measured(runtime, forfait.client_id, now=at(10, 13))[AVAILABILITY]
    assert shown.value == round(100 * 58 / 60, 3)
    # October, before the deployment, is not measured at all.
    october = measured(runtime, forfait.client_id, month="2026-10")
    assert october[AVAILABILITY].value is None


def test_a_month_without_heartbeats_after_the_first_one_is_down(
    runtime: Runtime, forfait: Provisioned
) -> None:
    with runtime.db.transaction() as session:
        record_heartbeat(session, at(1) - timedelta(days=3), healthy=True)

    shown = measured(runtime, forfait.client_id)[AVAILABILITY]
    assert (shown.value, shown.met) == (0.0, False)
    assert [c.code for c in credits(runtime, forfait.client_id)] == [AVAILABILITY]


def test_enterprise_needs_three_nines(runtime: Runtime, forfait: Provisioned) -> None:
    set_client(runtime, forfait.client_id, plan="enterprise")
    with runtime.db.transaction() as session:
        for minute in range(998):
            record_heartbeat(session, NOV_1 + timedelta(minutes=minute), healthy=True)

    shown = measured(runtime, forfait.client_id, now=NOV_1 + timedelta(minutes=1000))
    assert (shown[AVAILABILITY].value, shown[AVAILABILITY].target) == (99.8, 99.9)
    assert shown[AVAILABILITY].met is False


# -- incident notices ---------------------------------------------------------------


def attempt(
    runtime: Runtime,
    client_id: str,
    started_at: datetime,
    *,
    succeeded: bool,
) -> None:
    """Record an attempt, at ``started_at``, of each of the client's
    deliveries (and mark it delivered when it succeeded)."""
    with runtime.db.transaction() as session:
        deliveries = session.scalars(
            select(Delivery).where(Delivery.client_id == client_id)
        ).all()
        for delivery in deliveries:
            delivery.attempts += 1
            session.add(
                DeliveryAttempt(
                    delivery_seq=delivery.seq,
                    number=delivery.attempts,
                    worker="test",
                    started_at=started_at,
                    duration_ms=20,
                    succeeded=succeeded,
                )
            )
            if succeeded:
                delivery.status = STATUS_DELIVERED
                delivery.delivered_at = started_at


def test_incident_notice_delay_is_the_slowest_notice_of_the_month(
    runtime: Runtime, forfait: Provisioned, beta: Provisioned
) -> None:
    with runtime.db.transaction() as session:
        set_contact(session, forfait.client_id, email="ops@atlanta.ci", channel="email")
        first = open_incident(
            session,
            title="Horodatage lent",
            impact="Signatures retardées",
            client_ids=[forfait.client_id],
            now=at(12, 8),
            by=Actor.operator(),
        )
    attempt(runtime, forfait.client_id, at(12, 8, 45), succeeded=True)

    shown = measured(runtime, forfait.client_id)[INCIDENT_NOTICE]
    assert (shown.value, shown.unit, shown.target, shown.met) == (
        45.0,
        "min",
        120.0,
        True,
    )
    assert measured(runtime, beta.client_id)[INCIDENT_NOTICE].value is None

    # A notice not yet sent counts with its age.
    with runtime.db.transaction() as session:
        open_incident(
            session,
            title="Base de données",
            impact="Service interrompu",
            client_ids=[forfait.client_id],
            now=at(20, 8),
            by=Actor.operator(),
        )
    late = measured(runtime, forfait.client_id, now=at(20, 11))[INCIDENT_NOTICE]
    assert (late.value, late.met) == (180.0, False)
    assert first.id.startswith("INC-")


def test_incident_notice_delay_runs_to_the_first_attempt_not_the_success(
    runtime: Runtime, forfait: Provisioned
) -> None:
    # Sent ten minutes after the declaration to a mailbox that refused it,
    # and never delivered: the service did its part at the first attempt.
    with runtime.db.transaction() as session:
        set_contact(session, forfait.client_id, email="ops@atlanta.ci", channel="email")
        open_incident(
            session,
            title="Horodatage lent",
            impact="Signatures retardées",
            client_ids=[forfait.client_id],
            now=at(12, 8),
            by=Actor.operator(),
        )
    attempt(runtime, forfait.client_id, at(12, 8, 10), succeeded=False)
    attempt(runtime, forfait.client_id, at(12, 14), succeeded=False)

    shown = measured(runtime, forfait.client_id)[INCIDENT_NOTICE]
    assert (shown.value, shown.met) == (10.0, True)


def test_a_notice_to_a_client_without_contact_is_not_counted(
    runtime: Runtime, forfait: Provisioned
) -> None:
    with runtime.db.transaction() as session:
        open_incident(
            session,
            title="Horodatage lent",
            impact="Signatures retardées",
            client_ids=[forfait.client_id],
            now=at(12, 8),
            by=Actor.operator(),
        )
        assert session.scalars(select(Delivery)).all() == []

    shown = measured(runtime, forfait.client_id)[INCIDENT_NOTICE]
    assert (shown.value, shown.met) == (None, None)
    assert credits(runtime, forfait.client_id) == []


# -- webhooks -----------------------------------------------------------------------


def test_webhook_success_is_the_share_delivered_among_those_ended(
    runtime: Runtime, forfait: Provisioned, beta: Provisioned
) -> None:
    box = SecretBox(runtime.settings.load_master_key())
    with runtime.db.transaction() as session:
        add_endpoint(
            session, box, client_id=forfait.client_id, url="https://hooks.atlanta.ci/x"
        )
        for day in range(2, 8):
            record_event(
                session,
                client_id=forfait.client_id,
                type=types.SIGNATURE_SIGNEE,
                data={"ref_signature": f"SIG-{day}"},
                now=at(day),
            )
    with runtime.db.sessions() as session:
        seqs = list(session.scalars(select(Delivery.seq).order_by(Delivery.seq)))
    # Three delivered, one failed after every retry, two still pending.
    with runtime.db.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.seq.in_(seqs[:3]))
            .values(status=STATUS_DELIVERED, delivered_at=at(8))
        )
        session.execute(
            update(Delivery).where(Delivery.seq == seqs[3]).values(status=STATUS_FAILED)
        )

    shown = measured(runtime, forfait.client_id)[WEBHOOKS]
    assert (shown.value, shown.unit, shown.target, shown.met) == (
        75.0,
        "%",
        99.0,
        False,
    )
    assert measured(runtime, beta.client_id)[WEBHOOKS].value is None
    # The sheet sets no webhook target, and an endpoint fails by the client's
    # hand as often as by ours: missed, shown, but no credit by default.
    assert runtime.settings.sla_credit_percent[WEBHOOKS] == 0
    assert WEBHOOKS not in [c.code for c in credits(runtime, forfait.client_id)]


# -- plans, months, series ----------------------------------------------------------


def test_a_plan_without_commitment_has_no_target_and_no_credit(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    refs = sign(api, atlanta, pdf, 1)
    move_signatures(runtime, refs, at(5), [8000])

    shown = measured(runtime, atlanta.client_id)
    assert [code for code in shown] == list(CODES)
    assert shown[SIGNING_P95].value == 8000.0
    assert all(i.target is None and i.met is None for i in shown.values())
    assert credits(runtime, atlanta.client_id) == []


def test_series_runs_oldest_first_up_to_the_current_month(
    api: TestClient, runtime: Runtime, forfait: Provisioned, pdf: bytes
) -> None:
    refs = sign(api, forfait, pdf, 1)
    move_signatures(runtime, refs, at(5), [1200])

    with runtime.db.sessions() as session:
        by_code = series(
            session, runtime.settings, forfait.client_id, months=3, now=at(20)
        )

    assert by_code[SIGNING_P95] == [
        ("2026-09", None, 3000.0),
        ("2026-10", None, 3000.0),
        ("2026-11", 1200.0, 3000.0),
    ]
    assert set(by_code) == set(CODES)


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "novembre", "2026-11-01", ""])
def test_a_month_is_written_yyyy_mm(month: str) -> None:
    with pytest.raises(InvalidMonth) as raised:
        month_window(month)
    assert raised.value.code == "mois_invalide"
    assert raised.value.status == 422


@pytest.mark.parametrize("month", ["0000-01", "9999-12"])
def test_a_month_beyond_the_calendar_is_refused(month: str) -> None:
    with pytest.raises(InvalidMonth) as raised:
        month_window(month)
    assert (raised.value.code, raised.value.status) == ("mois_invalide", 422)
    assert "9999-11" in raised.value.message


def test_a_month_runs_to_the_first_of_the_next_in_utc() -> None:
    december = month_window("2026-12")
    assert (december.start.isoformat(), december.end.isoformat()) == (
        "2026-12-01T00:00:00+00:00",
        "2027-01-01T00:00:00+00:00",
    )


def test_the_settings_name_every_indicator_and_only_them(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert set(settings.sla_credit_percent) == set(CODES)
    assert all(set(targets) == set(CODES) for targets in settings.sla_targets.values())

    with pytest.raises(ValidationError, match="unknown SLA indicator"):
        Settings(data_dir=tmp_path, sla_credit_percent={"disponibilite": 10})
    with pytest.raises(ValidationError, match="unknown SLA indicator"):
        Settings(data_dir=tmp_path, sla_targets={"forfait": {"latence": 800}})
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, sla_credit_percent={AVAILABILITY: 150})


def test_a_month_is_held_to_the_targets_of_the_plan_in_force_that_month(
    runtime: Runtime, forfait: Provisioned
) -> None:
    with runtime.db.transaction() as session:
        schedule_plan_change(
            session,
            forfait.client_id,
            "enterprise",
            actor="operateur:awa",
            now=at(15),
            unit_price_xof=90,
            monthly_fee_xof=400_000,
            included_signatures=5_000,
            by=Actor.operator(),
        )

    november = measured(runtime, forfait.client_id, now=at(30))
    december = measured(runtime, forfait.client_id, month="2026-12", now=at(30))

    assert november[AVAILABILITY].target == 99.5
    assert december[AVAILABILITY].target == 99.9
