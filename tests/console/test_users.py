"""Console users: created, listed and reset by the operator's CLI, enrolled
through a single-use link under the people's password policy."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from sceau.audit.actors import Actor
from sceau.cli import main
from sceau.console.errors import ConsoleEmailTaken, InvalidConsoleUser
from sceau.console.users import create_user
from sceau.runtime import Runtime
from sceau.settings import get_settings
from tests.conftest import Provisioned
from tests.console.conftest import (
    BASE_URL,
    PASSWORD,
    FrozenClock,
    csrf_of,
    enrol,
    log_in,
    new_user,
    shown,
)


@pytest.fixture
def cli(data_dir: Path, database_url: str) -> Iterator[CliRunner]:
    env = {"SCEAU_DATA_DIR": str(data_dir), "SCEAU_DATABASE_URL": database_url}
    get_settings.cache_clear()
    yield CliRunner(env=env)
    get_settings.cache_clear()


def run_json(cli: CliRunner, *args: str) -> object:
    get_settings.cache_clear()
    result = cli.invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_cli_creates_lists_and_resets_a_user(
    cli: CliRunner,
    site: TestClient,
    clock: FrozenClock,
    atlanta: Provisioned,
) -> None:
    created = run_json(
        cli,
        "console", "user", "create",
        "--email", "Admin@Atlanta.example.ci",
        "--name", "Awa Traoré",
        "--role", "administrateur",
        "--client", atlanta.client_id,
    )  # fmt: skip
    assert isinstance(created, dict)
    assert created["email"] == "admin@atlanta.example.ci"
    assert created["inscrit"] is False
    link = created["lien_inscription"]
    assert re.search(r"/console/inscription/[A-Za-z0-9_-]{40,}$", link)

    path = link[link.index("/console/") :]
    account = enrol(site, BASE_URL + path, created["email"], clock)
    assert log_in(site, account, clock).status_code == 303
    rows = run_json(cli, "console", "user", "list")
    assert isinstance(rows, list)
    (listed,) = rows
    assert listed["inscrit"] is True
    assert "lien_inscription" not in listed

    reset = run_json(cli, "console", "user", "reset", "--email", created["email"])
    assert isinstance(reset, dict)
    assert reset["inscrit"] is False
    assert reset["lien_inscription"] != link
    # The reset ended the session, and the first link stays used.
    assert site.get(f"/console/clients/{atlanta.client_id}").status_code == 303
    assert site.get(path).status_code == 410


def test_the_cli_refuses_an_operator_with_a_client(
    cli: CliRunner, atlanta: Provisioned
) -> None:
    get_settings.cache_clear()
    result = cli.invoke(
        main,
        [
            "console", "user", "create",
            "--email", "op@pixel.example.ci",
            "--name", "Opératrice",
            "--role", "operateur",
            "--client", atlanta.client_id,
        ],
    )  # fmt: skip

    assert result.exit_code != 0
    assert "Un opérateur n'appartient à aucun client" in result.output


def test_roles_and_clients_must_agree(runtime: Runtime, atlanta: Provisioned) -> None:
    with runtime.db.transaction() as session:
        with pytest.raises(InvalidConsoleUser):
            create_user(
                session,
                runtime.settings,
                email="lecteur@atlanta.example.ci",
                name="Lecteur",
                role="lecteur",
                client_id=None,
                by=Actor.operator(),
            )
        with pytest.raises(InvalidConsoleUser):
            create_user(
                session,
                runtime.settings,
                email="x@atlanta.example.ci",
                name="X",
                role="superviseur",
                client_id=atlanta.client_id,
                by=Actor.operator(),
            )
        create_user(
            session,
            runtime.settings,
            email="op@pixel.example.ci",
            name="Opératrice",
            role="operateur",
            client_id=None,
            by=Actor.operator(),
        )
        with pytest.raises(ConsoleEmailTaken):
            create_user(
                session,
                runtime.settings,
                email="OP@pixel.example.ci",
                name="Autre",
                role="operateur",
                client_id=None,
                by=Actor.operator(),
            )


def test_enrolment_applies_the_password_policy_and_is_single_use(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> None:
    link = new_user(
        runtime,
        email="admin@atlanta.example.ci",
        role="administrateur",
        client_id=atlanta.client_id,
    )
    path = link.removeprefix(BASE_URL)
    page = site.get(path)
    assert "<svg" in page.text
    secret = re.search(r'id="secret">([A-Z2-7 ]+)<', page.text)
    assert secret
    code = pyotp.TOTP(secret.group(1).replace(" ", "")).at(clock.now())

    def submit(password: str, again: str, totp: str = code) -> httpx.Response:
        return site.post(
            path,
            data={
                "csrf": csrf_of(page),
                "mot_de_passe": password,
                "mot_de_passe_confirmation": again,
                "code": totp,
            },
        )

    assert submit("password123!", "password123!").status_code == 422
    differ = submit(PASSWORD, PASSWORD + "x")
    assert "ne sont pas identiques" in shown(differ)
    assert submit(PASSWORD, PASSWORD, "123456").status_code == 422
    assert submit(PASSWORD, PASSWORD).status_code == 200
    assert submit(PASSWORD, PASSWORD).status_code == 410
    assert site.get(path).status_code == 410
