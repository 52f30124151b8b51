"""The migrations build exactly the schema the models describe, on SQLite and
on PostgreSQL, and go down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from sceau.db import MIGRATIONS_DIR
from sceau.models import Base
from sceau.runtime import Runtime


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
