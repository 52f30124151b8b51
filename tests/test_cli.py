"""The operator's command line, as an operator types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import update

from sceau.app import create_app
from sceau.cli import main
from sceau.runtime import Runtime
from sceau.settings import get_settings
from sceau.signing.models import SignatureRecord
from tests.conftest import Provisioned, sign_body

SIGN = "/api/v1/sceau/b2b/signer"


@pytest.fixture
def cli(data_dir: Path, database_url: str) -> Iterator[CliRunner]:
    env = {"SCEAU_DATA_DIR": str(data_dir), "SCEAU_DATABASE_URL": database_url}
    get_settings.cache_clear()
    yield CliRunner(env=env)
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    get_settings.cache_clear()
    result = cli.invoke(main, list(args), catch_exceptions=False)
    return result


def run_json(cli: CliRunner, *args: str) -> object:
    result = run(cli, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_client_identity_and_key_are_created_and_listed(cli: CliRunner) -> None:
    client = run_json(cli, "client", "create", "--name", "Atlanta Assurances")
    assert isinstance(client, dict)
    identity = run_json(
        cli,
        "identity",
        "create-system",
        "--client",
        client["id"],
        "--label",
        "Atlanta Assurances – système de production",
        "--code",
        "ATLANTASYS",
    )
    key = run_json(cli, "key", "create", "--client", client["id"])

    assert isinstance(identity, dict) and isinstance(key, dict)
    assert identity["code_09"] == "09S-ATLANTASYS-X"
    assert key["cle"].startswith("psk_") and len(key["cle"]) > 43
    clients = run_json(cli, "client", "list")
    assert [c["nom"] for c in clients] == ["Atlanta Assurances"]  # type: ignore[union-attr]
    identities = run_json(cli, "identity", "list", "--client", client["id"])
    assert [i["code_09"] for i in identities] == ["09S-ATLANTASYS-X"]  # type: ignore[union-attr]
    keys = run_json(cli, "key", "list")
    assert isinstance(keys, list)
    assert keys[0]["id"] == key["id"]
    assert key["cle"] not in json.dumps(keys)


def test_identity_code_can_be_generated_or_given_in_full(cli: CliRunner) -> None:
    client = run(cli, "client", "create", "--name", "Banque Atlantique").stdout.strip()
    generated = run(
        cli, "identity", "create-system", "--client", client, "--label", "Banque – prod"
    ).stdout.strip()
    full = run(
        cli,
        "identity",
        "create-system",
        "--client",
        client,
        "--label",
        "Banque – pilote",
        "--code",
        "09S-ATLANTASYS-X",
        "--algorithm",
        "ecdsa-p256",
    ).stdout.strip()

    assert generated.startswith("09S-") and len(generated) == len("09S-") + 8 + 2
    assert full == "09S-ATLANTASYS-X"


def test_identity_with_a_taken_or_mistyped_code_is_refused(cli: CliRunner) -> None:
    client = run(cli, "client", "create", "--name", "Atlanta").stdout.strip()
    base = ["identity", "create-system", "--client", client, "--label", "Atlanta"]
    assert run(cli, *base, "--code", "ATLANTASYS").exit_code == 0

    taken = run(cli, *base, "--code", "ATLANTASYS")
    mistyped = run(cli, *base, "--code", "09S-ATLANTASYS-Y")
    unknown_client = run(
        cli, "identity", "create-system", "--client", "cli_nope", "--label", "X"
    )

    assert taken.exit_code != 0 and "already in use" in taken.output
    assert mistyped.exit_code != 0 and "contrôle" in mistyped.output
    assert unknown_client.exit_code != 0 and "client" in unknown_client.output


def test_key_revoke_marks_the_key_revoked(cli: CliRunner) -> None:
    client = run(cli, "client", "create", "--name", "Atlanta").stdout.strip()
    key = run_json(cli, "key", "create", "--client", client)
    assert isinstance(key, dict)

    revoked = run_json(cli, "key", "revoke", key["id"])
    listed = run_json(cli, "key", "list", "--client", client)

    assert isinstance(revoked, dict) and revoked["id"] == key["id"]
    assert isinstance(listed, list) and len(listed) == 1
    assert {
        k: listed[0][k] for k in ("id", "client", "prefixe", "revoquee", "etat")
    } == {
        "id": key["id"],
        "client": client,
        "prefixe": key["cle"][:16],
        "revoquee": True,
        "etat": "revoquee",
    }
    assert listed[0]["revoquee_le"] is not None


def test_unknown_plan_is_refused(cli: CliRunner) -> None:
    result = run(cli, "client", "create", "--name", "X", "--plan", "platine")

    assert result.exit_code != 0
    assert "pay_as_you_go" in result.output


def test_export_root_prints_the_root_certificate(cli: CliRunner) -> None:
    result = run(cli, "pki", "export-root")

    assert result.stdout.startswith("-----BEGIN CERTIFICATE-----")
    completed = subprocess.run(
        ["openssl", "x509", "-noout", "-subject"],
        input=result.stdout,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Pixel Sceau Root CA" in completed.stdout


def test_provision_env_prints_shell_exports(cli: CliRunner) -> None:
    result = run(
        cli,
        "client",
        "provision",
        "--name",
        "Atlanta Assurances",
        "--label",
        "Atlanta Assurances – système de production",
        "--code",
        "ATLANTASYS",
        "--env",
    )

    lines = result.stdout.splitlines()
    assert [line.split("=")[0] for line in lines] == [
        "export PIXEL_CLIENT_ID",
        "export PIXEL_CODE_09",
        "export PIXEL_NOM_SIGNATAIRE",
        "export PIXEL_API_KEY",
    ]
    assert "export PIXEL_CODE_09=09S-ATLANTASYS-X" in lines


def test_db_upgrade_runs_from_the_installed_console_script(data_dir: Path) -> None:
    sceau = Path(sys.executable).parent / "sceau"
    env = {**os.environ, "SCEAU_DATA_DIR": str(data_dir)}

    result = subprocess.run(
        [sceau, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert (data_dir / "sceau.db").exists()


def test_purge_removes_expired_pdfs_and_keeps_records(
    cli: CliRunner, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    with TestClient(create_app(runtime.settings, runtime)) as api:
        old = api.post(SIGN, headers=atlanta.headers, json=sign_body(atlanta, pdf))
        fresh = api.post(SIGN, headers=atlanta.headers, json=sign_body(atlanta, pdf))
        old_ref = old.json()["ref_signature"]
        with runtime.db.transaction() as session:
            session.execute(
                update(SignatureRecord)
                .where(SignatureRecord.ref == old_ref)
                .values(keep_until=datetime.now(UTC) - timedelta(days=1))
            )

        purged = run_json(cli, "purge")

        assert purged == {
            "documents_supprimes": 1,
            "cles_idempotence_supprimees": 0,
            "traces_authentification_supprimees": 0,
        }
        signatures = "/api/v1/sceau/b2b/signatures"
        assert (
            api.get(f"{signatures}/{old_ref}", headers=atlanta.headers).status_code
            == 200
        )
        gone = api.get(f"{signatures}/{old_ref}/pdf", headers=atlanta.headers)
        assert gone.status_code == 410
        kept = api.get(
            f"{signatures}/{fresh.json()['ref_signature']}/pdf", headers=atlanta.headers
        )
        assert kept.status_code == 200
