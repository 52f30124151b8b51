"""Engine, sessions and the Alembic glue."""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    TypeDecorator,
    create_engine,
    event,
    make_url,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from sceau.errors import DatabaseUnavailable, DiskFull

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

WRITE_OPTION = "sceau_write"

# A PostgreSQL that is down must cost a request a refused or timed-out
# connection, not a hang: libpq gives up connecting after CONNECT_TIMEOUT, and
# drops a connection whose sent data the server has not acknowledged within
# TCP_USER_TIMEOUT_MS (a server gone from the network mid-query). A statement
# stuck on the server (a lock held by a stalled transaction) is cancelled
# after STATEMENT_TIMEOUT_MS; migrations are exempt. The database URL may set
# any of them (``?connect_timeout=2``, ``options=-c statement_timeout=…``).
CONNECT_TIMEOUT_SECONDS = 5
TCP_USER_TIMEOUT_MS = 15_000
STATEMENT_TIMEOUT_MS = 60_000
# How long a request waits for a free connection of the pool.
POOL_TIMEOUT_SECONDS = 10

# SQLSTATE 53100, PostgreSQL's disk_full ("could not extend file").
_PG_DISK_FULL = "53100"
# SQLite's result codes (and their words) for a file it cannot use now.
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
)
_SQLITE_UNAVAILABLE_WORDS = (
    "database is locked",
    "unable to open database file",
    "disk I/O error",
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """An aware time as the API writes it: ISO 8601 with ``Z``."""
    return moment.isoformat().replace("+00:00", "Z")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args=_postgres_connect_args(url),
    )


def _postgres_connect_args(url: str) -> dict[str, Any]:
    """The timeouts above, unless the URL sets its own."""
    query = make_url(url).query
    defaults: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
    }
    args = {name: value for name, value in defaults.items() if name not in query}
    # The URL's options come last, so that its own statement_timeout wins.
    theirs = query.get("options", "")
    if isinstance(theirs, tuple):
        theirs = " ".join(theirs)
    args["options"] = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} {theirs}".strip()
    return args


def storage_failure(exc: BaseException) -> DatabaseUnavailable | DiskFull | None:
    """What a client should be told of a failure of the storage under the
    service, anywhere in ``exc``'s chain: the database unreachable, or the disk
    full; ``None`` for anything else (a bug stays a bug)."""
    seen: BaseException | None = exc
    unreachable = False
    while seen is not None:
        if _is_disk_full(seen):
            return DiskFull()
        if _is_unreachable(seen):
            unreachable = True
        seen = seen.__cause__ or seen.__context__
    return DatabaseUnavailable() if unreachable else None


def storage_reason(exc: BaseException) -> str:
    """The driver's own words for a log line: never SQLAlchemy's text, which
    quotes the statement's parameters (keys, documents)."""
    original = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    first_line = str(original).strip().splitlines()[:1]
    return f"{type(original).__name__}: {''.join(first_line)[:200]}"


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        original = exc.orig
        # sqlite3 names its result codes; psycopg carries the SQLSTATE.
        if getattr(original, "sqlite_errorname", None) == "SQLITE_FULL":
            return True
        if getattr(original, "sqlstate", None) == _PG_DISK_FULL:
            return True
        return "database or disk is full" in str(original)
    return False


def _is_unreachable(exc: BaseException) -> bool:
    # OperationalError is what both drivers raise for a connection refused,
    # lost or timed out, a server shutting down or starting up, a statement
    # cancelled, or SQLite's file busy or unreadable; InterfaceError, a
    # connection already closed. A pool with no connection to lend is the
    # same for the caller.
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc.orig, sqlite3.Error):
            # sqlite3 also raises OperationalError for a statement it cannot
            # run (a syntax error, a missing table): a bug, not an outage.
            name = getattr(exc.orig, "sqlite_errorname", "") or ""
            return name.startswith(_SQLITE_UNAVAILABLE) or any(
                words in str(exc.orig) for words in _SQLITE_UNAVAILABLE_WORDS
            )
        return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    return isinstance(exc, sa_exc.TimeoutError)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; foreign keys are off by
    # default in SQLite. Transactions are begun by us (see below), not pysqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # A unit of work takes the write lock at BEGIN, so two writers queue on
    # busy_timeout instead of failing with "database is locked" when a read
    # upgrades to a write; plain reads stay deferred and run beside them.
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


class Database:
    """The engine and a session factory, one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time. Threads of this process queue on a
        # lock, woken the moment it is free, rather than on SQLite's busy
        # handler, which sleeps in steps of up to 100 ms; other processes still
        # wait on busy_timeout.
        self._writer: threading.RLock | nullcontext[None] = (
            threading.RLock() if url.startswith("sqlite") else nullcontext()
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed whole, or rolled back whole."""
        with self._writer, self.sessions() as session, session.begin():
            session.connection(execution_options={WRITE_OPTION: True})
            yield session

    def upgrade(self) -> None:
        upgrade_database(self.url, self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str, engine: Engine | None = None) -> None:
    config = alembic_config(url)
    if engine is not None:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # A migration may rewrite a large table: no statement timeout.
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
                # Processes starting at once each migrate: one at a time per
                # schema, and the next finds the schema at head.
                connection.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock("
                    "hashtext('pixel-sceau migrations ' || current_schema()))"
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        return
    command.upgrade(config, "head")
