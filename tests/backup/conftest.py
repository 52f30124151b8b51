"""Fixtures for backups: the backup key in the environment of a CLI runner,
the runtime of the people tests (its e-mails reach a loopback SMTP server),
the anchoring worker on loopback calendars, and a target to restore into
that nothing has touched yet."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from sceau.cli import main
from sceau.runtime import Runtime
from sceau.settings import get_settings
from tests.anchoring.conftest import anchoring, calendars, chain
from tests.conftest import POSTGRES_ADMIN_URL
from tests.people.conftest import mailbox, runtime

__all__ = ["anchoring", "calendars", "chain", "mailbox", "runtime"]


@pytest.fixture
def backup_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class Target:
    data_dir: Path
    database_url: str


@pytest.fixture
def target(tmp_path: Path, database_url: str) -> Iterator[Target]:
    """A new data directory and a new database (a schema not yet created,
    on PostgreSQL), on the backend of the test's database."""
    directory = tmp_path / "restored"
    if database_url.startswith("sqlite"):
        yield Target(directory, f"sqlite:///{directory / 'sceau.db'}")
        return
    schema = "r_" + secrets.token_hex(6)
    yield Target(directory, f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}")
    admin = create_engine(POSTGRES_ADMIN_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def run_cli(env: dict[str, str], *args: str) -> Result:
    """``sceau …`` in-process, its settings read afresh from ``env``."""
    get_settings.cache_clear()
    try:
        return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)
    finally:
        get_settings.cache_clear()


def drop_database(runtime: Runtime) -> None:
    """The runtime's database is gone: its SQLite file, or every table of its
    PostgreSQL schema (the schema stays, empty, for its fixture to drop)."""
    runtime.close()
    url = runtime.settings.resolved_database_url
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    schema = url.rsplit("%3D", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
