"""Which failures of the storage a client is told of as such (503, retry)
and which stay bugs (500), on errors raised by the real drivers; and that a
log line of one never quotes a statement's parameters."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from sceau.db import storage_failure, storage_reason
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


def test_a_database_nobody_listens_for_is_unavailable_and_logged_without_secrets() -> (
    None
):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    failure = _raised(url, "SELECT :cle", cle=SECRET)

    assert isinstance(storage_failure(failure), DatabaseUnavailable)
    reason = storage_reason(failure)
    assert "Connection refused" in reason or "connection failed" in reason
    assert SECRET not in reason


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
