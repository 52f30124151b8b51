"""Which failures of the storage a client is told of as such (503, retry)
and which stay bugs (500), on errors raised by the real drivers; and that a
log line of one never quotes a statement's parameters."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from sceau.db import make_engine, storage_failure, storage_reason
from sceau.errors import DatabaseUnavailable, DiskFull
from tests.support.servers import free_port

SECRET = "phs_ne-doit-jamais-paraitre"


def _raised(url: str, statement: str, **parameters: object) -> DBAPIError:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement), parameters)
    except DBAPIError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("the statement did not fail")


def test_a_database_nobody_listens_for_is_unavailable() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    failure = _raised(url, "SELECT 1")

    unavailable = storage_failure(failure)
    assert isinstance(unavailable, DatabaseUnavailable)
    assert not unavailable.log_trace
    reason = storage_reason(failure)
    assert "Connection refused" in reason or "connection failed" in reason


def test_a_statement_timeout_is_worth_a_retry_and_a_trace_without_secrets(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL statement_timeout = 1"))
            connection.execute(text("SELECT pg_sleep(1), :cle"), {"cle": SECRET})
    except DBAPIError as exc:
        failure = exc
    else:
        raise AssertionError("the statement was not cancelled")
    finally:
        engine.dispose()

    assert getattr(failure.orig, "sqlstate", None) == "57014"
    unavailable = storage_failure(failure)
    assert isinstance(unavailable, DatabaseUnavailable)
    assert unavailable.log_trace
    # SQLAlchemy's text quotes the parameters; the log line's reason does not.
    assert SECRET in str(failure)
    reason = storage_reason(failure)
    assert "57014" in reason and "statement timeout" in reason
    assert SECRET not in reason


def test_the_service_engine_never_quotes_parameters(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("SELECT nothing FROM nowhere WHERE 1 = :cle"), {"cle": SECRET}
            )
    except DBAPIError as exc:
        assert SECRET not in str(exc)
        assert storage_failure(exc) is None
    else:
        raise AssertionError("the statement did not fail")
    finally:
        engine.dispose()


def test_a_serialisation_conflict_is_worth_a_retry_and_a_trace(
    postgres_url: str,
) -> None:
    """Two transactions update one row; the one whose snapshot predates the
    other's commit is rolled back by the server (SQLSTATE 40001)."""
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INT)"))
            connection.execute(text("INSERT INTO t VALUES (1, 0)"))
        repeatable = engine.execution_options(isolation_level="REPEATABLE READ")
        with repeatable.connect() as first, engine.connect() as second:
            first.begin()
            first.execute(text("SELECT n FROM t WHERE id = 1"))
            with second.begin():
                second.execute(text("UPDATE t SET n = n + 1 WHERE id = 1"))
            with pytest.raises(DBAPIError) as raised:
                first.execute(text("UPDATE t SET n = n + 1 WHERE id = 1"))
            first.rollback()
    finally:
        engine.dispose()

    assert getattr(raised.value.orig, "sqlstate", None) == "40001"
    unavailable = storage_failure(raised.value)
    assert isinstance(unavailable, DatabaseUnavailable)
    assert unavailable.log_trace


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO t (id) VALUES (1)",  # a unique violation, 23505
        "SELECT nothing FROM nowhere",  # an undefined table, 42P01
        "SELEC 1",  # a syntax error, 42601
        "SELECT 1 FROM t FOR UPDATE NOWAIT",  # lock_not_available, 55P03
    ],
)
def test_postgresql_errors_that_are_bugs_stay_bugs(
    postgres_url: str, statement: str
) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            connection.execute(text("INSERT INTO t (id) VALUES (1)"))
        with engine.connect() as holder:
            holder.begin()
            holder.execute(text("SELECT 1 FROM t FOR UPDATE"))
            failure = _raised(postgres_url, statement)
            holder.rollback()
    finally:
        engine.dispose()

    assert failure.orig is not None and getattr(failure.orig, "sqlstate", None)
    assert storage_failure(failure) is None


def test_a_context_suppressed_is_not_followed() -> None:
    """``raise … from None`` says the first error is handled: a full disk
    behind it is not what this failure is."""
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("handled, then something else") from None
    except RuntimeError as replaced:
        assert storage_failure(replaced) is None


def test_a_chain_that_loops_ends() -> None:
    first = RuntimeError("first")
    second = RuntimeError("second")
    first.__context__ = second
    second.__context__ = first

    assert storage_failure(first) is None


def test_a_full_disk_wrapped_in_another_error_is_still_a_full_disk() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("writing the report") from exc
    except RuntimeError as wrapped:
        assert isinstance(storage_failure(wrapped), DiskFull)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO t (id) VALUES (1)",  # the same key twice: a bug of ours
        "SELECT nothing FROM nowhere",
    ],
)
def test_errors_that_are_bugs_stay_bugs(tmp_path: Path, statement: str) -> None:
    url = f"sqlite:///{tmp_path / 'essai.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO t (id) VALUES (1)"))
    engine.dispose()

    assert storage_failure(_raised(url, statement)) is None


def test_a_database_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent' / 'sceau.db'}"
    failure = _raised(url, "SELECT 1")

    assert isinstance(storage_failure(failure), DatabaseUnavailable)
