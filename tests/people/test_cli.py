"""``sceau person …`` as an operator types it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sceau.clients.service import get_client
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.test_cli import cli, run, run_json

__all__ = ["cli"]


def test_person_create_list_invite_and_reset(
    cli: CliRunner, runtime: Runtime, atlanta: Provisioned, data_dir: Path
) -> None:
    created = run_json(
        cli,
        "person",
        "create",
        "--name",
        "Maître Yao Kouassi",
        "--email",
        "y.kouassi@huissiers.example.ci",
        "--profession",
        "huissier",
        "--client",
        atlanta.client_id,
        "--code",
        "KOUASSIY",
    )
    assert isinstance(created, dict)
    assert created["code_09"].startswith("09-KOUASSIY-")
    assert created["inscrite"] is False
    assert "lien_inscription" not in created

    listed = run_json(cli, "person", "list", "--client", atlanta.client_id)
    assert isinstance(listed, list)
    assert [p["code_09"] for p in listed] == [created["code_09"]]

    invited = run_json(
        cli, "person", "invite", "--code", created["code_09"], "--show-link"
    )
    assert isinstance(invited, dict)
    assert "/signer/inscription/" in invited["lien_inscription"]

    reset = run_json(cli, "person", "reset", "--code", created["code_09"])
    assert isinstance(reset, dict)
    assert reset["inscrite"] is False


def test_person_reset_names_an_unknown_code(cli: CliRunner, runtime: Runtime) -> None:
    result = run(cli, "person", "reset", "--code", "09-ATLANTASYS-X")

    assert result.exit_code == 1
    assert "Aucune personne ne porte ce code_09." in result.output


def test_an_individual_notary_gets_a_client_account_of_their_own(
    cli: CliRunner, runtime: Runtime
) -> None:
    created = run_json(
        cli,
        "person",
        "create",
        "--name",
        "Maître Aïcha Traoré",
        "--email",
        "a.traore@notaires.example.ci",
        "--profession",
        "notaire",
    )

    assert isinstance(created, dict)
    with runtime.db.sessions() as session:
        client = get_client(session, created["client"])
    assert client.name == "Maître Aïcha Traoré"
    assert client.plan == "gratuit_notaire"
