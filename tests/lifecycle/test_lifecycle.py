"""A client's integration, step by step: nothing signs before the pilot, the
pilot signs under its marker and its daily cap, production signs freely, and
every step is recorded with who made it."""

from __future__ import annotations

import base64
import threading
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from sceau.audit.actors import Actor
from sceau.cli import main
from sceau.clients.models import Client
from sceau.db import MIGRATIONS_DIR
from sceau.lifecycle.errors import AgreementInvalid, TransitionInvalid
from sceau.lifecycle.service import history, open_during, transition
from sceau.people.service import create_person
from sceau.runtime import Runtime
from sceau.settings import get_settings
from sceau.signing.models import SignatureRecord
from tests.conftest import Provisioned, provision, sign_body
from tests.modes.test_signing_errors import assert_french_error
from tests.support.validators import signature_entries

SIGN = "/api/v1/sceau/b2b/signer"
ACTS = "/api/v1/sceau/b2b/actes"
AUTO = "/api/v1/sceau/b2b/actes/auto"
AGREEMENT: dict[str, Any] = {
    "modes": ["systeme", "humaine"],
    "niveau": "A",
    "matrice_autorite": False,
    "formule": "pay_as_you_go",
    "canal": "both",
}


def signatures_of(runtime: Runtime, client_id: str) -> list[SignatureRecord]:
    with runtime.db.sessions() as session:
        return list(
            session.scalars(
                select(SignatureRecord).where(SignatureRecord.client_id == client_id)
            )
        )


def step(runtime: Runtime, client_id: str, to_state: str, **kwargs: Any) -> None:
    with runtime.db.transaction() as session:
        transition(
            session,
            client_id,
            to_state,
            actor="operateur:awa",
            settings=runtime.settings,
            by=Actor.operator(),
            **kwargs,
        )


def in_pilot(runtime: Runtime, cap: int) -> Provisioned:
    """A client taken through cadrage and convention (with its cap) to the
    pilot."""
    client = provision(runtime, state="cadrage")
    step(
        runtime,
        client.client_id,
        "convention",
        agreement=AGREEMENT | {"plafond_pilote": cap},
    )
    step(runtime, client.client_id, "provisionne")
    step(runtime, client.client_id, "pilote", note="premiers appels")
    return client


@pytest.mark.parametrize("state", ["cadrage", "convention", "provisionne"])
def test_a_client_before_its_pilot_cannot_sign_or_prepare_acts(
    runtime: Runtime, api: TestClient, pdf: bytes, state: str
) -> None:
    client = provision(runtime, state=state)

    signing = api.post(SIGN, json=sign_body(client, pdf), headers=client.headers)
    act = api.post(ACTS, json={}, headers=client.headers)
    auto = api.post(AUTO, json={}, headers=client.headers)

    for answer in (signing, act, auto):
        assert_french_error(answer, 403, "integration_non_ouverte")
        assert f"« {state} »" in answer.json()["erreur"]["message"]
    assert signatures_of(runtime, client.client_id) == []


def test_a_pilot_signs_under_its_marker_until_the_day_cap(
    runtime: Runtime, api: TestClient, pdf: bytes
) -> None:
    client = in_pilot(runtime, cap=2)

    first = api.post(SIGN, json=sign_body(client, pdf), headers=client.headers)
    second = api.post(SIGN, json=sign_body(client, pdf), headers=client.headers)
    third = api.post(SIGN, json=sign_body(client, pdf), headers=client.headers)

    assert first.status_code == second.status_code == 200, first.text
    assert_french_error(third, 429, "plafond_pilote_atteint")
    assert 0 < int(third.headers["Retry-After"]) <= 86400
    assert "(2 signatures)" in third.json()["erreur"]["message"]
    stored = signatures_of(runtime, client.client_id)
    assert len(stored) == 2
    assert {record.reason for record in stored} == {
        "PILOTE — Attestation de garantie n° 2026-04231"
    }
    signed = base64.b64decode(first.json()["pdf_signe_b64"])
    (entry,) = signature_entries(signed)
    assert entry["/Reason"].startswith("PILOTE — ")


def test_production_lifts_the_cap_and_the_marker(
    runtime: Runtime, api: TestClient, pdf: bytes
) -> None:
    client = in_pilot(runtime, cap=1)
    first = api.post(SIGN, json=sign_body(client, pdf), headers=client.headers)
    assert first.status_code == 200, first.text
    assert (
        api.post(SIGN, json=sign_body(client, pdf), headers=client.headers).status_code
        == 429
    )

    step(runtime, client.client_id, "production")
    after = api.post(SIGN, json=sign_body(client, pdf), headers=client.headers)

    assert after.status_code == 200, after.text
    reasons = sorted(
        record.reason for record in signatures_of(runtime, client.client_id)
    )
    assert reasons == [
        "Attestation de garantie n° 2026-04231",
        "PILOTE — Attestation de garantie n° 2026-04231",
    ]


def test_requests_racing_for_the_last_pilot_signature_of_the_day_one_wins(
    runtime: Runtime, api: TestClient, pdf: bytes
) -> None:
    client = in_pilot(runtime, cap=1)
    barrier = threading.Barrier(4)
    answers: list[int] = []

    def race() -> None:
        barrier.wait()
        answer = api.post(SIGN, json=sign_body(client, pdf), headers=client.headers)
        answers.append(answer.status_code)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [200, 429, 429, 429]
    assert len(signatures_of(runtime, client.client_id)) == 1


def test_steps_go_forward_one_at_a_time_and_are_recorded(runtime: Runtime) -> None:
    client = provision(runtime, state="cadrage")

    with pytest.raises(TransitionInvalid, match="l'étape suivante est « convention »"):
        step(runtime, client.client_id, "provisionne")
    with pytest.raises(TransitionInvalid, match="enregistre ses paramètres"):
        step(runtime, client.client_id, "convention")
    step(runtime, client.client_id, "convention", agreement=AGREEMENT)
    with pytest.raises(TransitionInvalid, match="au passage en convention seulement"):
        step(runtime, client.client_id, "provisionne", agreement=AGREEMENT)
    step(runtime, client.client_id, "provisionne")
    with pytest.raises(TransitionInvalid):
        step(runtime, client.client_id, "convention", agreement=AGREEMENT)

    with runtime.db.sessions() as session:
        steps = [
            (c.from_state, c.to_state, c.actor)
            for c in history(session, client.client_id)
        ]
    assert steps == [
        (None, "cadrage", "operateur"),
        ("cadrage", "convention", "operateur:awa"),
        ("convention", "provisionne", "operateur:awa"),
    ]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"modes": []}, "« modes »"),
        ({"modes": ["automatique"]}, "« modes »"),
        ({"niveau": "D"}, "« niveau »"),
        ({"matrice_autorite": "oui"}, "« matrice_autorite »"),
        ({"formule": "platine"}, "« formule »"),
        ({"canal": "pigeon"}, "« canal »"),
        ({"plafond_pilote": 0}, "« plafond_pilote »"),
        ({"plafond_pilote": True}, "« plafond_pilote »"),
        ({"remise": 10}, "Champ inconnu"),
    ],
)
def test_an_invalid_agreement_is_refused_and_the_step_not_taken(
    runtime: Runtime, change: dict[str, Any], words: str
) -> None:
    client = provision(runtime, state="cadrage")

    with pytest.raises(AgreementInvalid, match=words) as refused:
        step(runtime, client.client_id, "convention", agreement=AGREEMENT | change)

    assert refused.value.code == "convention_invalide"
    with runtime.db.sessions() as session:
        assert [c.to_state for c in history(session, client.client_id)] == ["cadrage"]


def test_a_professionals_own_account_opens_at_once(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        invited = create_person(
            session,
            runtime.pki,
            runtime.sealer,
            runtime.settings,
            name="Maître Aminata Koné",
            email="a.kone@notaires.example.ci",
            profession="notaire",
            client_id=None,
            by=Actor.operator(),
        )
        (first,) = history(session, invited.person.client_id)
    assert (first.to_state, first.actor) == ("production", "inscription")


def test_the_operator_steps_a_client_and_reads_its_history_from_the_cli(
    runtime: Runtime, data_dir: Any, database_url: str
) -> None:
    client = provision(runtime, state="cadrage")
    runner = CliRunner(
        env={"SCEAU_DATA_DIR": str(data_dir), "SCEAU_DATABASE_URL": database_url}
    )

    def run(*args: str) -> str:
        get_settings.cache_clear()
        result = runner.invoke(main, ["client", "state", *args])
        get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        return result.output

    run(
        "set",
        client.client_id,
        "convention",
        "--actor",
        "awa",
        "--modes",
        "systeme",
        "--level",
        "B",
        "--plan",
        "forfait",
        "--channel",
        "webhook",
    )
    refused = runner.invoke(
        main, ["client", "state", "set", client.client_id, "pilote", "--actor", "awa"]
    )
    shown = run("show", client.client_id)

    assert refused.exit_code != 0
    assert "l'étape suivante est « provisionne »" in refused.output
    assert f"{client.client_id}\tconvention" in shown
    assert "cadrage → convention\toperateur:awa" in shown
    # The agreement says B and forfait; the client is still A and pay-as-you-go.
    assert "écart : niveau A configuré, B convenu" in shown
    assert "écart : formule pay_as_you_go configurée, forfait convenue" in shown
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SignatureRecord)) == 0


def test_a_client_reads_its_step_its_agreement_and_its_history(
    runtime: Runtime, api: TestClient
) -> None:
    client = in_pilot(runtime, cap=5)
    other = provision(runtime, name="Banque Atlantique", body="BANKSYS")

    mine = api.get("/api/v1/sceau/b2b/integration", headers=client.headers)
    theirs = api.get("/api/v1/sceau/b2b/integration", headers=other.headers)

    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["etape"] == "pilote"
    assert body["signature_ouverte"] is True
    assert body["plafond_journalier_pilote"] == 5
    assert body["mention_pilote"] == "PILOTE"
    assert body["convention"]["formule"] == "pay_as_you_go"
    assert [(s["de"], s["vers"]) for s in body["historique"]] == [
        (None, "cadrage"),
        ("cadrage", "convention"),
        ("convention", "provisionne"),
        ("provisionne", "pilote"),
    ]
    assert body["historique"][-1]["note"] == "premiers appels"
    # Who at Pixel Sceau took each step is not the client's to read.
    assert "awa" not in mine.text
    assert theirs.json()["etape"] == "production"
    assert theirs.json()["convention"] is None
    assert theirs.json()["historique"] == [
        {
            "de": None,
            "vers": "production",
            "le": theirs.json()["historique"][0]["le"],
            "note": None,
        }
    ]


def test_a_client_is_open_during_a_period_it_spent_in_pilot_or_production(
    runtime: Runtime,
) -> None:
    client = provision(runtime, state="cadrage")
    with runtime.db.transaction() as session:
        created = history(session, client.client_id)[0].at
    hour = timedelta(hours=1)
    with runtime.db.transaction() as session:
        for offset, state, agreement in (
            (1, "convention", AGREEMENT),
            (2, "provisionne", None),
            (3, "pilote", None),
        ):
            transition(
                session,
                client.client_id,
                state,
                actor="operateur:awa",
                settings=runtime.settings,
                agreement=agreement,
                now=created + offset * hour,
                by=Actor.operator(),
            )

    def open_between(start: int, end: int) -> bool:
        with runtime.db.sessions() as session:
            return open_during(
                session, client.client_id, created + start * hour, created + end * hour
            )

    assert open_between(0, 3) is False  # the pilot opens at the end: excluded
    assert open_between(2, 4) is True  # it opens inside
    assert open_between(5, 6) is True  # it was open all along


def test_the_migration_puts_existing_clients_in_production(runtime: Runtime) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with runtime.db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0015")
        connection.execute(
            text(
                "INSERT INTO clients (id, name, plan, created_at, auth_level, "
                "ip_allowlist, incident_channel) VALUES ('cli_ancien', 'Ancien', "
                "'forfait', '2026-01-05 08:00:00', 'A', '', 'both')"
            )
        )
        command.upgrade(config, "head")

    with runtime.db.sessions() as session:
        (first,) = history(session, "cli_ancien")
        state = session.get_one(Client, "cli_ancien").state
    assert (first.from_state, first.to_state, first.actor) == (
        None,
        "production",
        "migration",
    )
    assert state == "production"
