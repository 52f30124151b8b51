"""A trail of a few entries, and what an operator with the database's
credentials could do to it once the append-only triggers are dropped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.models import AuditEntry
from sceau.audit.service import AuditEntryView, entries_about, record, view_of
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


# -- reading the trail as an auditor does ----------------------------------------


def entries_of(runtime: Runtime, action: str | None = None) -> list[AuditEntryView]:
    """Every entry, in the chain's order (those of ``action`` only, if given)."""
    with runtime.db.sessions() as session:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.hash, AuditEntry.body).order_by(
                AuditEntry.seq
            )
        ).all()
    entries = [view_of(row.seq, row.hash, row.body) for row in rows]
    return [e for e in entries if action is None or e.action == action]


def stored_text(runtime: Runtime) -> str:
    """Every stored entry's body, and the columns beside it, as one text to
    search for a secret."""
    with runtime.db.sessions() as session:
        rows = session.execute(select(AuditEntry)).scalars().all()
        return "\n".join(
            f"{row.action} {row.subject} {row.client_id} {row.body}" for row in rows
        )


def story(runtime: Runtime, ref: str) -> list[AuditEntryView]:
    """The entries about ``ref``, in order."""
    with runtime.db.sessions() as session:
        return entries_about(session, [ref])


def one(entries: list[AuditEntryView], action: str) -> AuditEntryView:
    """The only entry of ``action`` among ``entries``."""
    [entry] = [e for e in entries if e.action == action]
    return entry


# The loopback calendars and chain of the anchoring tests.
from tests.anchoring.conftest import anchoring, calendars, chain  # noqa: E402, F401
