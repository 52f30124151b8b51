"""Alembic environment: runs on the connection the service hands over."""

from typing import Any

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from sceau.models import Base

config = context.config
target_metadata = Base.metadata


class ForeignKeysBroken(RuntimeError):
    """A migration left rows that refer to rows that are gone."""


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return

    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        _run(connection)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    if connection.dialect.name == "sqlite":
        _run_on_sqlite(connection)
        return
    with context.begin_transaction():
        context.run_migrations()


def _run_on_sqlite(connection: Connection) -> None:
    """Run the migrations with foreign keys off, then check them.

    SQLite cannot alter a column in place: a batch operation copies the table,
    drops the old one and renames the copy. With foreign keys on, dropping a
    table that other rows refer to fails, so a populated database could not
    migrate. The pragma is a no-op inside a transaction: the transaction the
    caller began (empty: nothing is written before the migrations) is ended,
    the migrations run in one transaction of their own with foreign keys off,
    ``PRAGMA foreign_key_check`` must find nothing before it commits, and the
    pragma is restored before the caller's transaction begins again, empty.
    """
    raw: Any = connection.connection.driver_connection
    outer = bool(raw.in_transaction)
    if outer:
        raw.execute("COMMIT")
    was_on = raw.execute("PRAGMA foreign_keys").fetchone()[0]
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        raw.execute("BEGIN IMMEDIATE")
        try:
            # Alembic commits on leaving this block when it began the
            # transaction itself (a connection of its own, not the caller's):
            # the check must come before that.
            with context.begin_transaction():
                context.run_migrations()
                broken = raw.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    tables = sorted({str(row[0]) for row in broken})
                    raise ForeignKeysBroken(
                        "the migration leaves rows whose foreign keys refer to "
                        f"nothing, in: {', '.join(tables)}"
                    )
        except BaseException:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        if raw.in_transaction:
            raw.execute("COMMIT")
    finally:
        raw.execute(f"PRAGMA foreign_keys={'ON' if was_on else 'OFF'}")
        if outer:
            raw.execute("BEGIN")


run_migrations()
