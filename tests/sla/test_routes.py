"""What a client reads of its indicators (the API), what the operator reads
(the CLI) and what Prometheus scrapes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import update

from sceau.audit.actors import Actor
from sceau.billing.service import schedule_plan_change
from sceau.cli import main
from sceau.runtime import Runtime
from sceau.settings import get_settings
from sceau.signing.models import SignatureRecord
from sceau.sla import metrics as sla_metrics
from sceau.sla.metrics import Reading, SlaGauges
from sceau.sla.recorder import record_heartbeat
from tests.conftest import Provisioned, sign_body
from tests.sla.conftest import at, set_client

SLA = "/api/v1/sceau/b2b/sla"
SIGN = "/api/v1/sceau/b2b/signer"


def signed_in_november(
    api: TestClient, runtime: Runtime, client: Provisioned, pdf: bytes, ms: int
) -> None:
    answer = api.post(SIGN, headers=client.headers, json=sign_body(client, pdf))
    assert answer.status_code == 200, answer.text
    with runtime.db.transaction() as session:
        session.execute(
            update(SignatureRecord)
            .where(SignatureRecord.ref == answer.json()["ref_signature"])
            .values(signed_at=at(6, 10), duration_ms=ms)
        )


def by_code(answer: dict[str, object]) -> dict[str, dict[str, object]]:
    rows = answer["indicateurs"]
    assert isinstance(rows, list)
    return {row["indicateur"]: row for row in rows}


def test_a_client_reads_its_own_indicators_of_a_month(
    api: TestClient,
    runtime: Runtime,
    forfait: Provisioned,
    beta: Provisioned,
    pdf: bytes,
    frozen_api: Callable[[datetime], None],
) -> None:
    signed_in_november(api, runtime, forfait, pdf, 4200)
    signed_in_november(api, runtime, beta, pdf, 150)
    frozen_api(at(20, 12))

    answer = api.get(SLA, params={"mois": "2026-11"}, headers=forfait.headers)

    assert answer.status_code == 200
    body = answer.json()
    assert (body["mois"], body["formule"]) == ("2026-11", "forfait")
    assert by_code(body)["delai_signature_p95_ms"] == {
        "indicateur": "delai_signature_p95_ms",
        "libelle": "Délai d'apposition d'une signature (95e centile)",
        "valeur": 4200.0,
        "unite": "ms",
        "objectif": 3000.0,
        "sens": "max",
        "respecte": False,
    }
    theirs = api.get(SLA, params={"mois": "2026-11"}, headers=beta.headers).json()
    assert by_code(theirs)["delai_signature_p95_ms"]["valeur"] == 150.0


def test_the_current_month_is_the_default(
    api: TestClient,
    runtime: Runtime,
    forfait: Provisioned,
    frozen_api: Callable[[datetime], None],
) -> None:
    with runtime.db.transaction() as session:
        for minute in range(10):
            record_heartbeat(session, at(1, 0, minute), healthy=True)
    frozen_api(at(1, 0, 20))

    body = api.get(SLA, headers=forfait.headers).json()

    assert body["mois"] == "2026-11"
    availability = by_code(body)["disponibilite_pct"]
    assert (availability["valeur"], availability["objectif"]) == (50.0, 99.5)
    assert availability["respecte"] is False
    assert by_code(body)["delai_signature_p95_ms"]["valeur"] is None


@pytest.mark.parametrize("month", ["2026-13", "11-2026", "x" * 300])
def test_a_malformed_month_is_refused_with_its_code(
    api: TestClient, atlanta: Provisioned, month: str
) -> None:
    answer = api.get(SLA, params={"mois": month}, headers=atlanta.headers)

    assert answer.status_code == 422
    assert answer.json()["erreur"]["code"] == "mois_invalide"
    assert "AAAA-MM" in answer.json()["erreur"]["message"]


@pytest.mark.parametrize("month", ["0000-01", "9999-12"])
def test_a_month_beyond_the_calendar_is_refused_with_its_code(
    api: TestClient, atlanta: Provisioned, month: str
) -> None:
    answer = api.get(SLA, params={"mois": month}, headers=atlanta.headers)

    assert answer.status_code == 422
    error = answer.json()["erreur"]
    assert error["code"] == "mois_invalide"
    assert "entre 0001-01 et 9999-11" in error["message"]


def test_a_past_month_shows_the_plan_in_force_that_month(
    api: TestClient,
    runtime: Runtime,
    forfait: Provisioned,
    frozen_api: Callable[[datetime], None],
) -> None:
    # Moved to enterprise from December; the client now holds that plan.
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
    set_client(runtime, forfait.client_id, plan="enterprise")
    frozen_api(at(30) + timedelta(days=5))

    november = api.get(SLA, params={"mois": "2026-11"}, headers=forfait.headers)
    december = api.get(SLA, params={"mois": "2026-12"}, headers=forfait.headers)

    assert november.json()["formule"] == "forfait"
    assert by_code(november.json())["disponibilite_pct"]["objectif"] == 99.5
    assert december.json()["formule"] == "enterprise"
    assert by_code(december.json())["disponibilite_pct"]["objectif"] == 99.9


def test_indicators_need_an_authenticated_client(api: TestClient) -> None:
    assert api.get(SLA).status_code == 401


def test_prometheus_shows_each_clients_indicators_and_targets(
    api: TestClient,
    runtime: Runtime,
    forfait: Provisioned,
    beta: Provisioned,
    pdf: bytes,
    frozen_api: Callable[[datetime], None],
) -> None:
    signed_in_november(api, runtime, forfait, pdf, 1800)
    frozen_api(at(20, 12))

    text = api.get("/metrics").text

    atlanta = f'client_id="{forfait.client_id}"'
    assert (
        f'sceau_sla_indicator{{{atlanta},indicateur="delai_signature_p95_ms",'
        'mois="2026-11"} 1800.0' in text
    )
    assert (
        f'sceau_sla_target{{{atlanta},indicateur="disponibilite_pct",'
        'mois="2026-11"} 99.5' in text
    )
    assert (
        f'sceau_sla_met{{{atlanta},indicateur="delai_signature_p95_ms",'
        'mois="2026-11"} 1.0' in text
    )
    assert (
        f'sceau_sla_target{{client_id="{beta.client_id}",'
        'indicateur="temps_reponse_api_p95_ms",mois="2026-11"} 800.0' in text
    )


def test_one_scrape_at_a_time_reads_the_indicators(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    gauges = SlaGauges()
    reading, release = threading.Event(), threading.Event()
    calls: list[datetime] = []

    def slow_read(runtime: Runtime, now: datetime) -> list[Reading]:
        calls.append(now)
        reading.set()
        release.wait(10)
        return [("cli_x", "disponibilite_pct", "2026-11", 100.0, 99.5, True)]

    monkeypatch.setattr(sla_metrics, "_read", slow_read)
    first = threading.Thread(target=gauges.refresh, args=(runtime, at(20)))
    first.start()
    assert reading.wait(10)

    # A second scrape meanwhile does not read again: it serves what is cached.
    gauges.refresh(runtime, at(20))
    assert len(calls) == 1
    release.set()
    first.join(10)

    assert len(calls) == 1
    assert [m.samples[0].value for m in gauges.collect() if m.samples] == [
        100.0,
        99.5,
        1.0,
    ]


@pytest.fixture
def cli(data_dir: Path, database_url: str) -> Iterator[CliRunner]:
    get_settings.cache_clear()
    yield CliRunner(
        env={"SCEAU_DATA_DIR": str(data_dir), "SCEAU_DATABASE_URL": database_url}
    )
    get_settings.cache_clear()


def test_the_operator_reads_a_clients_month(
    cli: CliRunner,
    api: TestClient,
    runtime: Runtime,
    forfait: Provisioned,
    pdf: bytes,
) -> None:
    signed_in_november(api, runtime, forfait, pdf, 900)

    as_json = cli.invoke(
        main, ["sla", "show", forfait.client_id, "--month", "2026-11", "--json"]
    )
    as_text = cli.invoke(main, ["sla", "show", forfait.client_id, "--month", "2026-11"])
    wrong = cli.invoke(main, ["sla", "show", forfait.client_id, "--month", "2026-1"])

    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert (data["client"], data["mois"], data["formule"]) == (
        forfait.client_id,
        "2026-11",
        "forfait",
    )
    assert by_code(data)["delai_signature_p95_ms"]["valeur"] == 900.0
    assert "delai_signature_p95_ms\t900 ms\ttarget 3000\tmet" in as_text.stdout
    assert wrong.exit_code != 0
    assert "AAAA-MM" in wrong.output
