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
    func,
    make_url,
    select,
    text,
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
# after STATEMENT_TIMEOUT_MS; migrations and the operator's long commands
# are exempt (``without_statement_timeout``). The database URL may set
# any of them (``?connect_timeout=2``, ``options=-c statement_timeout=…``).
CONNECT_TIMEOUT_SECONDS = 5
TCP_USER_TIMEOUT_MS = 15_000
STATEMENT_TIMEOUT_MS = 60_000
# How long a request waits for a free connection of the pool.
POOL_TIMEOUT_SECONDS = 10

# SQLSTATE 53100, PostgreSQL's disk_full ("could not extend file").
_PG_DISK_FULL = "53100"
# The SQLSTATEs of a PostgreSQL that cannot serve now, an outage and not a
# bug: class 08 (connection exceptions), the server shutting down, crashed or
# starting up (57P01, 57P02, 57P03), no connection slot left (53300).
_PG_UNREACHABLE_CLASS = "08"
_PG_UNREACHABLE = frozenset({"57P01", "57P02", "57P03", "53300"})
# Worth a retry, and still worth a trace in the log: a statement cancelled
# after statement_timeout (57014: the database overloaded, or a lock held too
# long, which may be ours), a transaction the server rolled back to break a
# deadlock (40P01) or a serialisation conflict (40001). Any other SQLSTATE
# (a syntax error, a constraint, lock_not_available…) is a bug of ours.
_PG_RETRYABLE = frozenset({"57014", "40P01", "40001"})
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
    # An error's text never quotes a statement's parameters (documents, key
    # digests, tokens): a trace in the log shows the statement alone.
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
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
        hide_parameters=True,
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
    service, anywhere in ``exc``'s chain: the database unreachable (or a
    transaction it cancelled, worth a retry), or the disk full; ``None`` for
    anything else (a bug stays a bug)."""
    unavailable: DatabaseUnavailable | None = None
    walked: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in walked:
        walked.add(id(current))
        if _is_disk_full(current):
            return DiskFull()
        if unavailable is None:
            unavailable = _unavailable(current)
        # The chain as a traceback shows it: the cause, else the context
        # unless ``raise … from None`` suppressed it.
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return unavailable


def storage_reason(exc: BaseException) -> str:
    """The driver's own words for a log line: never SQLAlchemy's text, which
    quotes the statement's parameters (keys, documents)."""
    original = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    first_line = str(original).strip().splitlines()[:1]
    sqlstate = getattr(original, "sqlstate", None)
    state = f" [{sqlstate}]" if isinstance(sqlstate, str) else ""
    return f"{type(original).__name__}{state}: {''.join(first_line)[:200]}"


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
        return isinstance(original, sqlite3.Error) and (
            "database or disk is full" in str(original)
        )
    return False


def _unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """A database that cannot serve this request now, or ``None``."""
    if isinstance(exc, sa_exc.TimeoutError):
        # The pool had no connection to lend in time: the same for the caller.
        return DatabaseUnavailable()
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    original = exc.orig
    if isinstance(original, sqlite3.Error):
        # sqlite3 also raises OperationalError for a statement it cannot run
        # (a syntax error, a missing table): a bug, not an outage.
        name = getattr(original, "sqlite_errorname", "") or ""
        busy = name.startswith(_SQLITE_UNAVAILABLE) or any(
            words in str(original) for words in _SQLITE_UNAVAILABLE_WORDS
        )
        return DatabaseUnavailable() if busy or exc.connection_invalidated else None
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in _PG_RETRYABLE:
        return DatabaseUnavailable(log_trace=True)
    if exc.connection_invalidated:
        # The driver found the connection closed or broken.
        return DatabaseUnavailable()
    if isinstance(sqlstate, str):
        unreachable = sqlstate.startswith(_PG_UNREACHABLE_CLASS) or (
            sqlstate in _PG_UNREACHABLE
        )
        return DatabaseUnavailable() if unreachable else None
    # No SQLSTATE: the server never answered (a connection refused, timed out
    # or lost), which libpq reports as an OperationalError of its own.
    if isinstance(exc, sa_exc.OperationalError):
        return DatabaseUnavailable()
    return None


def database_now(session: Session) -> datetime:
    """The database's clock, where processes on several hosts share one
    database (PostgreSQL), so that times they compare (a lease) do not depend
    on each host's clock; SQLite's processes all run on its one host."""
    if session.get_bind().dialect.name == "postgresql":
        moment = session.scalar(select(func.clock_timestamp()))
        assert isinstance(moment, datetime)
        return moment.astimezone(UTC)
    return utcnow()


def without_statement_timeout(session: Session) -> None:
    """Lift the statement timeout for the rest of ``session``'s transaction:
    an operator's command may rightly run one long statement."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL statement_timeout = 0"))


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
    """Migrate to head, on ``engine`` or on an engine of its own for ``url``
    (a restore, before any process runs): on PostgreSQL under the same lock
    either way."""
    if engine is not None:
        _upgrade_on(engine, alembic_config(url))
        return
    if make_url(url).get_backend_name() != "postgresql":
        # SQLite has no advisory lock: Alembic opens its own connection.
        command.upgrade(alembic_config(url), "head")
        return
    own = make_engine(url)
    try:
        _upgrade_on(own, alembic_config(url))
    finally:
        own.dispose()


def _upgrade_on(engine: Engine, config: Config) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # A migration may rewrite a large table: no statement timeout.
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            # Processes starting at once each migrate: one at a time per
            # schema, and the next finds the schema at head. (No schema on
            # the search path: one lock for all such processes.)
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(hashtext("
                "'pixel-sceau migrations ' || coalesce(current_schema(), '')))"
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
