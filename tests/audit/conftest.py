"""A trail of a few entries, and what an operator with the database's
credentials could do to it once the append-only triggers are dropped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record
from sceau.cli import main
from sceau.runtime import Runtime
from sceau.settings import get_settings

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SEEDED = 10


@pytest.fixture
def trail(runtime: Runtime) -> Runtime:
    """``SEEDED`` entries, one transaction each, a minute apart."""
    for number in range(1, SEEDED + 1):
        with runtime.db.transaction() as session:
            record(
                session,
                actions.CLE_API_EMISE,
                actor=Actor.operator("exploitation"),
                subject=f"cli_{number:02d}",
                objects={"cle": f"key_{number:02d}"},
                client_id=f"cli_{number:02d}",
                now=START + timedelta(minutes=number),
            )
    return runtime


def drop_guards(runtime: Runtime) -> None:
    """What a rewrite takes first: the triggers that refuse it."""
    with runtime.db.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            for table in ("audit_entries", "audit_anchors"):
                session.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
        else:
            for table in ("audit_entries", "audit_anchors"):
                for change in ("update", "delete"):
                    session.execute(text(f"DROP TRIGGER {table}_no_{change}"))


def execute(runtime: Runtime, statement: str, **params: Any) -> None:
    with runtime.db.transaction() as session:
        session.execute(text(statement), params)


@pytest.fixture
def cli(data_dir: Path, database_url: str) -> Iterator[CliRunner]:
    env = {"SCEAU_DATA_DIR": str(data_dir), "SCEAU_DATABASE_URL": database_url}
    get_settings.cache_clear()
    yield CliRunner(env=env)
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    get_settings.cache_clear()
    return cli.invoke(main, list(args), catch_exceptions=False)


# The loopback calendars and chain of the anchoring tests.
from tests.anchoring.conftest import anchoring, calendars, chain  # noqa: E402, F401
