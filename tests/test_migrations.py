"""The migrations build exactly the schema the models describe, on SQLite and
on PostgreSQL, and go down and up again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from sceau.audit.actors import Actor
from sceau.db import MIGRATIONS_DIR
from sceau.models import Base
from sceau.people.service import create_person
from sceau.runtime import Runtime
from tests.conftest import Provisioned, sign_body

SIGN_URL = "/api/v1/sceau/b2b/signer"


def test_migrated_schema_matches_the_models(runtime: Runtime) -> None:
    with runtime.db.engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection), Base.metadata
        )

    assert differences == []


def test_migrations_go_down_to_the_first_and_up_again(runtime: Runtime) -> None:
    with runtime.db.engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
        command.upgrade(config, "head")
        differences = compare_metadata(
            MigrationContext.configure(connection), Base.metadata
        )

    assert differences == []


def _alembic(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _counts(runtime: Runtime) -> dict[str, int]:
    with runtime.db.engine.connect() as connection:
        return {
            table: connection.execute(
                text(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 (fixed names)
            ).scalar_one()
            for table in ("clients", "identities", "signatures", "persons")
        }


@pytest.mark.parametrize("start", ["0015", "0016"])
def test_a_populated_database_goes_up_to_head_and_down_one_step(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, pdf: bytes, start: str
) -> None:
    # Rows in tables that refer to the ones a migration rebuilds on SQLite
    # (clients in 0016, identities in 0017): a rebuild must not trip on them.
    signed = api.post(SIGN_URL, headers=atlanta.headers, json=sign_body(atlanta, pdf))
    assert signed.status_code == 200, signed.text[:300]
    with runtime.db.transaction() as session:
        create_person(
            session,
            runtime.pki,
            runtime.sealer,
            runtime.settings,
            name="Maître Aminata Koné",
            email="a.kone@notaires.example.ci",
            profession="notaire",
            client_id=atlanta.client_id,
            algorithm="ecdsa-p256",
            now=datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
            by=Actor.operator(),
        )
    populated = _counts(runtime)
    assert populated["signatures"] == 1 and populated["persons"] == 1

    with runtime.db.engine.begin() as connection:
        command.downgrade(_alembic(connection), start)
    with runtime.db.engine.begin() as connection:
        command.upgrade(_alembic(connection), "head")
    with runtime.db.engine.begin() as connection:
        command.downgrade(_alembic(connection), "-1")
    with runtime.db.engine.begin() as connection:
        command.upgrade(_alembic(connection), "head")
        differences = compare_metadata(
            MigrationContext.configure(connection), Base.metadata
        )

    assert differences == []
    assert _counts(runtime) == populated
    if runtime.db.engine.dialect.name == "sqlite":
        with runtime.db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_migration_that_leaves_broken_foreign_keys_is_rolled_back(
    runtime: Runtime,
) -> None:
    with runtime.db.engine.begin() as connection:
        command.downgrade(_alembic(connection), "0016")
    # A row whose client is gone, written with the checks off: the next
    # migration rebuilds a table with the checks off too, and must refuse
    # to commit a database that breaks them.
    with runtime.db.engine.connect() as connection:
        connection.exec_driver_sql("COMMIT")
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.exec_driver_sql(
            "INSERT INTO client_state_changes (client_id, to_state, actor, at) "
            "VALUES ('absent', 'production', 'test', '2026-12-04 09:00:00')"
        )
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")

    with (
        pytest.raises(RuntimeError, match="client_state_changes"),
        runtime.db.engine.begin() as connection,
    ):
        command.upgrade(_alembic(connection), "head")

    with runtime.db.engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
        assert version.scalar_one() == "0016"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
