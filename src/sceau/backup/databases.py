"""A consistent copy of the database while the service runs, and putting it
back: SQLite through its online backup API, PostgreSQL through ``pg_dump``
and ``pg_restore`` on one exported snapshot.

The row counts written into the manifest are read from the very copy that
is saved (SQLite) or inside the transaction whose snapshot ``pg_dump``
reads (PostgreSQL), so they describe exactly what the backup holds.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from sceau.backup.errors import BackupError, DatabaseToolFailed, TargetNotEmpty

SQLITE_MEMBER = "database/sceau.sqlite"
POSTGRES_MEMBER = "database/sceau.pgdump"
_SKIPPED_TABLES = {"alembic_version"}
# libpq parameters that may ride in a SQLAlchemy URL's query string.
_LIBPQ_QUERY = {
    "host": "PGHOST",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}
_TOOL_TIMEOUT = 6 * 3600
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class Snapshot:
    """The database's copy, as saved in the backup."""

    kind: str  # sqlite, postgresql
    member: str
    path: Path
    revision: str | None
    schema: str | None
    counts: dict[str, int]
    newest_signature_at: str | None


def database_kind(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {backend} database")
    return backend


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(database)


def safe_url(url: str) -> str:
    """The URL to show: without its password."""
    return make_url(url).render_as_string(hide_password=True)


# -- taking the snapshot -------------------------------------------------------


def take_snapshot(url: str, directory: Path) -> Snapshot:
    if database_kind(url) == "sqlite":
        return _sqlite_snapshot(sqlite_path(url), directory / "sceau.sqlite")
    return _postgres_snapshot(url, directory / "sceau.pgdump")


def _sqlite_snapshot(source: Path, copy: Path) -> Snapshot:
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    # One step of the online backup API: a read transaction for the whole
    # copy, which WAL lets run beside the service's writers.
    live = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    saved = sqlite3.connect(copy)
    try:
        live.backup(saved)
        saved.execute("PRAGMA journal_mode=DELETE")
        tables = [
            row[0]
            for row in saved.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        counts = {
            name: int(saved.execute(_select("COUNT(*)", name)).fetchone()[0])
            for name in tables
            if name not in _SKIPPED_TABLES
        }
        revision = _scalar_sqlite(saved, tables, "alembic_version", "version_num")
        newest = _scalar_sqlite(saved, tables, "signatures", "MAX(signed_at)")
    finally:
        saved.close()
        live.close()
    return Snapshot("sqlite", SQLITE_MEMBER, copy, revision, None, counts, _iso(newest))


def _scalar_sqlite(
    connection: sqlite3.Connection, tables: list[str], table: str, column: str
) -> str | None:
    if table not in tables:
        return None
    row = connection.execute(_select(column, table)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _postgres_snapshot(url: str, dump: Path) -> Snapshot:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            # pg_dump reads the snapshot this transaction exports, and the
            # counts are read in the same transaction: both see one moment.
            connection.exec_driver_sql(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
            )
            schema = _current_schema(connection)
            snapshot_id = connection.exec_driver_sql(
                "SELECT pg_export_snapshot()"
            ).scalar_one()
            counts, revision, newest = _postgres_facts(connection, schema)
            _run_tool(
                [
                    "pg_dump",
                    "--format=custom",
                    # Signed PDFs, most of the bytes, are compressed already,
                    # and the time of an hourly backup matters more than its
                    # size: no second compression.
                    "--compress=0",
                    "--no-owner",
                    "--no-privileges",
                    f'--schema="{schema}"',
                    f"--snapshot={snapshot_id}",
                    f"--file={dump}",
                ],
                url,
            )
            connection.rollback()
    finally:
        engine.dispose()
    return Snapshot(
        "postgresql", POSTGRES_MEMBER, dump, revision, schema, counts, newest
    )


def _postgres_facts(
    connection: Connection, schema: str
) -> tuple[dict[str, int], str | None, str | None]:
    tables = _postgres_tables(connection, schema)
    counts = {
        name: _count(connection, name, schema)
        for name in tables
        if name not in _SKIPPED_TABLES
    }
    revision = newest = None
    if "alembic_version" in tables:
        revision = connection.exec_driver_sql(
            _select("version_num", "alembic_version", schema)
        ).scalar()
    if "signatures" in tables:
        moment = connection.exec_driver_sql(
            _select("MAX(signed_at)", "signatures", schema)
        ).scalar()
        newest = None if moment is None else _iso(moment.isoformat())
    return counts, revision, newest


def _postgres_tables(connection: Connection, schema: str) -> list[str]:
    return list(
        connection.execute(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = :schema AND table_type = 'BASE TABLE' "
                "ORDER BY table_name"
            ),
            {"schema": schema},
        ).scalars()
    )


def _current_schema(connection: Connection) -> str:
    """Where the URL's tables live: the first schema of its search path,
    even when it does not exist yet."""
    current = connection.exec_driver_sql("SELECT current_schema()").scalar()
    if current:
        return str(current)
    path = str(connection.exec_driver_sql("SHOW search_path").scalar_one())
    for entry in path.split(","):
        name = entry.strip().strip('"')
        if name and name != "$user":
            return name
    return "public"


def _iso(value: str | None) -> str | None:
    if value is None:
        return None
    return value.replace(" ", "T", 1).replace("+00:00", "Z")


# -- checking and preparing the target -----------------------------------------


def check_target_empty(url: str, *, force: bool) -> None:
    """Refuse a target that already holds tables, unless ``force``."""
    tables = restored_counts(url)
    if tables and not force:
        raise TargetNotEmpty(
            f"the target database {safe_url(url)} already holds {len(tables)} "
            "tables: restore into an empty database, or give --force to replace it"
        )


def restore_database(
    url: str, kind: str, dump: Path, source_schema: str | None
) -> None:
    """Put the saved copy in place of the (empty, or forced) target."""
    if kind != database_kind(url):
        raise BackupError(
            f"this backup holds a {kind} database and the target is "
            f"{database_kind(url)}: restore into a {kind} database"
        )
    if kind == "sqlite":
        _restore_sqlite(sqlite_path(url), dump)
    else:
        _restore_postgres(url, dump, source_schema or "public")


def _restore_sqlite(target: Path, copy: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.chmod(copy, 0o600)
    try:
        # The staging directory sits beside the data directory: usually one
        # file system, where a rename saves copying the whole database.
        os.replace(copy, target)
    except OSError:
        staged = target.with_name(target.name + ".restoring")
        shutil.copyfile(copy, staged)
        os.replace(staged, target)


def _restore_postgres(url: str, dump: Path, source: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            target = _checked(_current_schema(connection))
            # Checked empty (or --force) before: the archive creates it again.
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
    finally:
        engine.dispose()
    database = make_url(url).database or ""
    if source == target:
        _run_tool(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={database}",
                str(dump),
            ],
            url,
        )
        return
    _restore_renamed(url, dump, _checked(source), target, database)


def _restore_renamed(
    url: str, dump: Path, source: str, target: str, database: str
) -> None:
    """The archive's schema restored under another name, without touching a
    schema of the archive's name in the target database (the live one, when
    a copy is restored beside it): ``pg_restore`` writes the SQL script, its
    statements (never the rows it copies) are renamed on the way to
    ``psql``, which runs it in one transaction."""
    for tool in ("pg_restore", "psql"):
        if shutil.which(tool) is None:
            raise DatabaseToolFailed(
                f"{tool} is missing: install PostgreSQL's client tools "
                "(Debian: apt-get install postgresql-client)"
            )
    environment = _tool_environment(url)
    with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as errors:
        reader = subprocess.Popen(
            ["pg_restore", "--no-owner", "--no-privileges", "--file=-", str(dump)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=restore_errors,
        )
        writer = subprocess.Popen(
            [
                "psql",
                "--no-psqlrc",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                "--single-transaction",
                f"--dbname={database}",
                "--file=-",
            ],
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        assert reader.stdout is not None and writer.stdin is not None  # PIPEs
        try:
            for line in renamed_script(reader.stdout, source, target):
                writer.stdin.write(line)
        except BrokenPipeError:
            pass  # psql stopped on an error: reported below
        finally:
            with contextlib.suppress(BrokenPipeError):
                writer.stdin.close()
            reader.stdout.close()
        read_status, write_status = reader.wait(), writer.wait()
        for tool, status, log in (
            ("psql", write_status, errors),
            ("pg_restore", read_status, restore_errors),
        ):
            if status != 0:
                log.seek(0)
                message = log.read().decode(errors="replace").strip()[-2000:]
                raise DatabaseToolFailed(f"{tool} failed (exit {status}): {message}")


def renamed_script(lines: Iterable[bytes], source: str, target: str) -> Iterator[bytes]:
    """``pg_restore``'s script with schema ``source`` named ``target``: in
    statements only; the rows between ``COPY … FROM stdin;`` and ``\\.``
    pass untouched."""
    name = re.escape(source.encode())
    qualified = re.compile(rb'(?<![\w$."])(?:' + name + rb'|"' + name + rb'")(?=\.)')
    statement = re.compile(rb"^((?:CREATE|ALTER|COMMENT ON) SCHEMA )" + name + rb"\b")
    replacement = target.encode()
    in_rows = False
    for line in lines:
        if in_rows:
            in_rows = line != b"\\.\n"
            yield line
            continue
        line = statement.sub(rb"\g<1>" + replacement, line)
        line = qualified.sub(replacement, line)
        in_rows = line.startswith(b"COPY ") and line.rstrip().endswith(b"FROM stdin;")
        yield line


def _checked(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise BackupError(f"unexpected schema name {name!r}")
    return name


def _schema_exists(connection: Connection, name: str) -> bool:
    return (
        connection.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": name}
        ).scalar()
        is not None
    )


def restored_counts(url: str) -> dict[str, int]:
    """Rows per table, as the service will read them through ``url``."""
    if database_kind(url) == "sqlite":
        if not sqlite_path(url).exists():
            return {}
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                names = sorted(inspect(connection).get_table_names())
                return {
                    name: _count(connection, name)
                    for name in names
                    if name not in _SKIPPED_TABLES
                }
        finally:
            engine.dispose()
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            schema = _current_schema(connection)
            return {
                name: _count(connection, name, schema)
                for name in _postgres_tables(connection, schema)
                if name not in _SKIPPED_TABLES
            }
    finally:
        engine.dispose()


def _count(connection: Connection, table: str, schema: str | None = None) -> int:
    return int(
        connection.exec_driver_sql(_select("COUNT(*)", table, schema)).scalar_one()
    )


def _select(what: str, table: str, schema: str | None = None) -> str:
    """A query on a table named by the database's own catalogue."""
    for name in (table, schema):
        if name is not None and not _IDENTIFIER.fullmatch(name):
            raise BackupError(f"unexpected table or schema name {name!r}")
    where = f'"{schema}"."{table}"' if schema else f'"{table}"'
    return f"SELECT {what} FROM {where}"  # noqa: S608 - names checked above


# -- pg_dump and pg_restore ----------------------------------------------------


def libpq_environment(url: str | URL) -> dict[str, str]:
    """The PG* variables that point libpq's tools where the SQLAlchemy URL
    points (``postgresql+psycopg://…``); the password travels here, never
    on a command line."""
    parsed = make_url(url) if isinstance(url, str) else url
    env: dict[str, str] = {}
    for variable, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value is not None:
            env[variable] = str(value)
    for key, variable in _LIBPQ_QUERY.items():
        given = parsed.query.get(key)
        first = given[0] if isinstance(given, tuple) else given
        if first:
            env[variable] = str(first)
    return env


def _tool_environment(url: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return inherited | libpq_environment(url)


def _run_tool(arguments: list[str], url: str) -> None:
    tool = arguments[0]
    if shutil.which(tool) is None:
        raise DatabaseToolFailed(
            f"{tool} is missing: install PostgreSQL's client tools "
            "(Debian: apt-get install postgresql-client), of the server's version"
        )
    result = subprocess.run(
        arguments,
        env=_tool_environment(url),
        capture_output=True,
        text=True,
        check=False,
        timeout=_TOOL_TIMEOUT,
    )
    if result.returncode != 0:
        raise DatabaseToolFailed(
            f"{tool} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}"
        )
