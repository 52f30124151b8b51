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
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from sceau.backup.errors import BackupError, DatabaseToolFailed, TargetNotEmpty
from sceau.db import iso_utc, utcnow
from sceau.ops.processes import minimal_environment

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
# Table names, read from the database's own catalogue.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
# Schema names: lower case and unquoted, the names PostgreSQL folds to and
# writes without quotes, so that a script's renaming has one spelling to find.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# What the tools may see of this process's environment: never the service's
# keys, PINs or passwords, which the tools have no use for.
# Beside what every child keeps (sceau.ops.processes.minimal_environment):
# libpq's password file and TLS settings.
_TOOL_VARIABLES = ("PGPASSFILE",)
_TOOL_PREFIXES = ("PGSSL",)


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
    # Every transaction committed before this moment is in the copy.
    snapshot_at: str


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
        snapshot_at = iso_utc(utcnow())
        try:
            live.backup(saved)
        except sqlite3.Error as exc:
            raise BackupError(
                f"the SQLite database could not be copied: {exc}"
            ) from exc
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
    return Snapshot(
        "sqlite", SQLITE_MEMBER, copy, revision, None, counts, _iso(newest), snapshot_at
    )


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
            schema = _checked(_current_schema(connection))
            # now() is the transaction's start, before its snapshot is taken.
            snapshot_id, started = connection.exec_driver_sql(
                "SELECT pg_export_snapshot(), now()"
            ).one()
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
        "postgresql",
        POSTGRES_MEMBER,
        dump,
        revision,
        schema,
        counts,
        newest,
        iso_utc(started.astimezone(UTC)),
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
        newest = None if moment is None else _iso(moment)
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


def _iso(value: str | datetime | None) -> str | None:
    """A stored time as the API writes it, whichever backend stored it
    (SQLite keeps UTC text without a zone)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso_utc(moment.astimezone(UTC))


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
    url: str, kind: str, dump: Path, source_schema: str | None, *, force: bool = False
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
        _restore_postgres(url, dump, source_schema or "public", force=force)


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


def _restore_postgres(url: str, dump: Path, source: str, *, force: bool) -> None:
    """The archive's schema in place of the target's, all or nothing: the
    tools are found first, and the target's old schema, if any, is dropped
    in the same transaction as the one that restores the new one, so that
    a tool missing or failing, or a bad archive, leaves the target as it
    was."""
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            target = _checked(_current_schema(connection))
            exists = _schema_exists(connection, target)
    finally:
        engine.dispose()
    database = make_url(url).database or ""
    checked_source = _checked(source)
    if checked_source == target and not (exists and force):
        # No tables to replace (checked before): pg_restore alone, in one
        # transaction that drops the schema if it is there, empty (as
        # ``public`` is in a new database), and fails, changing nothing, if
        # anything is left in it.
        _run_tool(
            [
                pg_restore,
                "--no-owner",
                "--no-privileges",
                "--clean",
                "--if-exists",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={database}",
                str(dump),
            ],
            url,
        )
        return
    _restore_through_psql(
        url, dump, checked_source, target, database, (pg_restore, psql)
    )


def _restore_through_psql(
    url: str,
    dump: Path,
    source: str,
    target: str,
    database: str,
    tools: tuple[str, str],
) -> None:
    """``pg_restore`` writes the archive's SQL script; ``psql`` runs it in
    one transaction that first drops the target's schema, and commits only
    once ``pg_restore`` has written the whole script and ended well (else
    ``psql`` ends with the transaction open, and the server rolls it back).
    When the archive's schema has another name than the target's (a copy
    restored beside the live schema), its statements (never the rows it
    copies) are renamed on the way."""
    pg_restore, psql = tools
    environment = tool_environment(url)
    with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as errors:
        reader = subprocess.Popen(
            [pg_restore, "--no-owner", "--no-privileges", "--file=-", str(dump)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=restore_errors,
        )
        writer = subprocess.Popen(
            [
                psql,
                "--no-psqlrc",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
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
            writer.stdin.write(
                f'BEGIN;\nDROP SCHEMA IF EXISTS "{target}" CASCADE;\n'.encode()
            )
            if source == target:
                shutil.copyfileobj(reader.stdout, writer.stdin, 1 << 20)
            else:
                for line in renamed_script(reader.stdout, source, target):
                    writer.stdin.write(line)
            reader.stdout.close()
            if reader.wait(timeout=_TOOL_TIMEOUT) == 0:
                writer.stdin.write(b"COMMIT;\n")
        except BrokenPipeError:
            pass  # psql stopped on an error: reported below
        except subprocess.TimeoutExpired as exc:
            reader.kill()
            writer.kill()
            raise DatabaseToolFailed(
                f"pg_restore did not end within {_TOOL_TIMEOUT} s"
            ) from exc
        finally:
            with contextlib.suppress(BrokenPipeError):
                writer.stdin.close()
            reader.stdout.close()
        read_status = reader.wait()
        try:
            write_status = writer.wait(timeout=_TOOL_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            writer.kill()
            raise DatabaseToolFailed(
                f"psql did not end within {_TOOL_TIMEOUT} s"
            ) from exc
        # psql first: when it stops on an error, pg_restore fails after it
        # on a closed pipe.
        for tool, status, log in (
            ("psql", write_status, errors),
            ("pg_restore", read_status, restore_errors),
        ):
            if status != 0:
                log.seek(0)
                message = log.read().decode(errors="replace").strip()[-2000:]
                raise DatabaseToolFailed(
                    f"{tool} failed (exit {status}), the target is as it was: {message}"
                )


# Where a statement's text is not SQL to rename: a string literal, a quoted
# identifier, a dollar-quoted body, a comment.
_OPENING = re.compile(rb"""'|"|--|(?<![A-Za-z0-9_$])\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$""")


_SEQUENCE_CALLS = (b"setval(", b"nextval(", b"currval(")


class _ScriptRenamer:
    """Renames schema ``source`` to ``target`` in a script's statements,
    line by line, keeping track of the literals that span lines."""

    def __init__(self, source: str, target: str) -> None:
        name = re.escape(source.encode())
        self._target = target.encode()
        self._source_quoted = b'"' + source.encode() + b'"'
        # An unquoted qualifier: ``source.`` not part of a longer name.
        self._qualified = re.compile(rb"(?<![A-Za-z0-9_$.])" + name + rb"(?=\.)")
        self._statement = re.compile(
            rb"^((?:CREATE|ALTER|COMMENT ON) SCHEMA )" + name + rb"(?![A-Za-z0-9_$])"
        )
        # A literal that names an object (``'s.seq'::regclass``,
        # ``setval('s.seq', …)``): renamed, when it is that name alone.
        self._literal_name = re.compile(
            rb"^'(?:"
            + name
            + rb'|"'
            + name
            + rb'")(\.(?:[a-z_][a-z0-9_$]*|"[^"]*"))\'$'
        )
        self._open: bytes | None = None  # the quote a literal opened with

    @property
    def in_literal(self) -> bool:
        return self._open is not None

    def line(self, line: bytes) -> bytes:
        out: list[bytes] = []
        position = 0
        if self._open is not None:
            close = self._closing(line, 0, self._open)
            if close < 0:
                return line
            out.append(line[:close])
            self._open = None
            position = close
        while position < len(line):
            match = _OPENING.search(line, position)
            end = len(line) if match is None else match.start()
            plain = line[position:end]
            if position == 0:
                plain = self._statement.sub(rb"\g<1>" + self._target, plain)
            out.append(self._qualified.sub(self._target, plain))
            if match is None:
                break
            opening = match.group()
            if opening == b"--":
                out.append(line[end:])
                break
            close = self._closing(line, match.end(), opening)
            if close < 0:
                self._open = opening
                out.append(line[end:])
                break
            out.append(self._quoted(line, end, close))
            position = close
        return b"".join(out)

    def _closing(self, line: bytes, start: int, opening: bytes) -> int:
        """Where the literal opened by ``opening`` ends (just after its
        closing quote) in ``line`` from ``start``; -1 when it goes on."""
        if opening.startswith(b"$"):
            found = line.find(opening, start)
            return -1 if found < 0 else found + len(opening)
        position = start
        while True:
            found = line.find(opening, position)
            if found < 0:
                return -1
            if line[found + 1 : found + 2] == opening:  # '' or "" inside
                position = found + 2
                continue
            return found + 1

    def _quoted(self, line: bytes, start: int, end: int) -> bytes:
        token = line[start:end]
        if token == self._source_quoted and line[end : end + 1] == b".":
            return self._target
        names_object = line[end:].startswith(b"::regclass") or line[:start].endswith(
            _SEQUENCE_CALLS
        )
        if token.startswith(b"'") and names_object:
            return self._literal_name.sub(b"'" + self._target + rb"\g<1>'", token)
        return token


def renamed_script(lines: Iterable[bytes], source: str, target: str) -> Iterator[bytes]:
    """``pg_restore``'s script with schema ``source`` named ``target``: in
    statements only, never inside string literals (but for a literal that
    names an object, cast to ``regclass`` or given to ``setval``),
    comments or dollar-quoted bodies; the rows between ``COPY … FROM
    stdin;`` and ``\\.`` pass untouched."""
    renamer = _ScriptRenamer(_checked(source), _checked(target))
    in_rows = False
    for line in lines:
        if in_rows:
            in_rows = line != b"\\.\n"
            yield line
            continue
        line = renamer.line(line)
        in_rows = (
            not renamer.in_literal
            and line.startswith(b"COPY ")
            and line.rstrip().endswith(b"FROM stdin;")
        )
        yield line


def _checked(name: str) -> str:
    if not _SCHEMA_NAME.fullmatch(name):
        raise BackupError(
            f"schema name {name!r} is not supported: backups and restores take "
            "lower-case unquoted names only (letters a-z, digits, _); name the "
            "target schema with ?options=-csearch_path%3D<name> in the URL"
        )
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


def tool_environment(url: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """What ``pg_dump``, ``pg_restore`` and ``psql`` run with: the locale,
    the path, the home (for ``~/.pgpass``), a password file and TLS
    settings if given, and the URL's own PG* variables; nothing else of
    this process, whose keys and PINs they have no use for."""
    return minimal_environment(
        libpq_environment(url),
        keep=_TOOL_VARIABLES,
        keep_prefixes=_TOOL_PREFIXES,
        environ=environ,
    )


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise DatabaseToolFailed(
            f"{name} is missing: install PostgreSQL's client tools "
            "(Debian: apt-get install postgresql-client), of the server's version"
        )
    return found


def _run_tool(arguments: list[str], url: str) -> None:
    tool = _tool(arguments[0])
    name = Path(arguments[0]).name
    try:
        result = subprocess.run(
            [tool, *arguments[1:]],
            env=tool_environment(url),
            capture_output=True,
            text=True,
            check=False,
            timeout=_TOOL_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise DatabaseToolFailed(
            f"{name} did not end within {_TOOL_TIMEOUT} s"
        ) from exc
    if result.returncode != 0:
        raise DatabaseToolFailed(
            f"{name} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}"
        )
