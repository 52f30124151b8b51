"""The disk full, the data directory's (a small tmpfs holding the SQLite
database) or PostgreSQL's own (a private cluster on one): a signature is
refused with 503 ``espace_disque_plein``, nothing of it is kept, the database
stays intact, and signing works again once space is freed."""

from __future__ import annotations

import errno
import hashlib
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from sceau.db import storage_failure
from sceau.errors import DiskFull
from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.conftest import Provisioned, provision, sign_body
from tests.faults.harness import (
    SIGN_PATH,
    PrivateCluster,
    ServiceProcess,
    holdings,
    private_cluster,
    running,
)
from tests.support.deployment import service_env
from tests.support.pdfs import one_page_pdf

DATABASE_FILES = {"sceau.db", "sceau.db-wal", "sceau.db-shm"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB file system of its own, mounted in the test's directory."""
    mount_point = tmp_path / "disque"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", str(mount_point)],
        check=True,
    )
    yield mount_point
    subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


@pytest.fixture
def data_dir_on_small_disk(small_disk: Path, pki_template: Path) -> Path:
    directory = small_disk / "var"
    directory.mkdir()
    shutil.copytree(pki_template / "pki", directory / "pki")
    shutil.copy2(pki_template / "master.key", directory / "master.key")
    return directory


def _fill(disk: Path) -> Path:
    """Write until the file system says it is full, to the last block."""
    filler = disk / "remplissage"
    filler.touch()
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 1 << 12, 1):
            chunk = b"\0" * size
            try:
                while True:
                    out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def _other_files(data_dir: Path) -> dict[str, str]:
    """Every file of the data directory but the database's, with its digest."""
    return {
        str(path.relative_to(data_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and path.name not in DATABASE_FILES
    }


def _integrity(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        [(result,)] = connection.execute("PRAGMA integrity_check").fetchall()
    connection.close()
    return str(result)


def _empty_the_wal(database: Path) -> None:
    """Fold the write-ahead log into the database and cut it to nothing, so
    that the next write must grow a file: SQLite reuses a log's space. A
    writer of the service at that moment makes the checkpoint busy: again."""
    connection = sqlite3.connect(database)
    try:
        for _ in range(100):
            [(busy, _, _)] = connection.execute(
                "PRAGMA wal_checkpoint(TRUNCATE)"
            ).fetchall()
            if busy == 0:
                return
            time.sleep(0.1)
    finally:
        connection.close()
    raise AssertionError("the write-ahead log stayed busy")


def _sign(
    url: str, client: Provisioned, body: dict[str, object], key: str
) -> httpx.Response:
    return httpx.post(
        f"{url}{SIGN_PATH}",
        headers={**client.headers, "Idempotency-Key": key},
        json=body,
        timeout=60,
    )


def test_disk_full_refuses_with_503_keeps_nothing_and_recovers_when_freed(
    small_disk: Path, data_dir_on_small_disk: Path, tmp_path: Path
) -> None:
    data_dir = data_dir_on_small_disk
    database = data_dir / "sceau.db"
    url = f"sqlite:///{database}"
    runtime = Runtime(Settings(data_dir=data_dir, database_url=url))
    runtime.prepare()
    client = provision(runtime)
    runtime.close()
    body = sign_body(client, one_page_pdf(), niveau="B-T")

    # The API process's own SLA flush writes once a minute at most: not while
    # the log is cut and the disk filled.
    env = service_env(data_dir, url, {"SCEAU_SLA_CHORE_SECONDS": "60"})
    service = ServiceProcess(env, tmp_path).start()
    with running(service):
        service.wait_ready()
        first = _sign(service.url, client, body, "avant-remplissage")
        assert first.status_code == 200, first.text
        engine = create_engine(url)
        before = holdings(engine)
        files_before = _other_files(data_dir)

        # Full: the write-ahead log emptied, then every block taken.
        _empty_the_wal(database)
        filler = _fill(small_disk)
        assert shutil.disk_usage(small_disk).free == 0

        refused = [
            _sign(service.url, client, body, "disque-plein"),
            _sign(service.url, client, sign_body(client, one_page_pdf()), "autre"),
        ]
        for answer in refused:
            assert answer.status_code == 503, answer.text
            error = answer.json()["erreur"]
            assert error["code"] == "espace_disque_plein"
            assert "disque" in error["message"]
            assert int(answer.headers["Retry-After"]) > 0

        # Nothing of them: no signature, no usage, no key held; the database
        # whole, the other files of the data directory as they were.
        during = holdings(engine)
        assert during == before
        assert _integrity(database) == "ok"
        assert _other_files(data_dir) == files_before

        # Space again: the same request, with the same key, is signed.
        filler.unlink()
        again = _sign(service.url, client, body, "disque-plein")
        assert again.status_code == 200, again.text
        assert "Idempotent-Replayed" not in again.headers

    after = holdings(engine)
    engine.dispose()
    ref = again.json()["ref_signature"]
    assert after.signatures == before.signatures | {ref}
    assert sorted(after.usage) == sorted([*before.usage, ref])
    assert after.idempotency["disque-plein"] == ("termine", ref)
    assert "autre" not in after.idempotency
    assert after.orphans() == []
    assert _integrity(database) == "ok"


@pytest.fixture
def cluster_on_small_disk() -> Iterator[PrivateCluster]:
    with private_cluster(disk_size="128m") as made:
        yield made


def test_database_disk_full_refuses_with_503_and_recovers_when_freed(
    cluster_on_small_disk: PrivateCluster, data_dir: Path, tmp_path: Path
) -> None:
    """PostgreSQL's own disk full: it cannot extend a table ("could not
    extend file", SQLSTATE 53100) and rolls the transaction back."""
    cluster = cluster_on_small_disk
    runtime = Runtime(Settings(data_dir=data_dir, database_url=cluster.url))
    runtime.prepare()
    client = provision(runtime)
    runtime.close()
    # A document larger than what a table's last page has free.
    body = sign_body(client, one_page_pdf(), niveau="B-B")

    env = service_env(
        data_dir,
        cluster.url,
        {"SCEAU_IDEMPOTENCY_LOCK_SECONDS": "2", "SCEAU_SLA_CHORE_SECONDS": "60"},
    )
    service = ServiceProcess(env, tmp_path).start()
    with running(service):
        service.wait_ready()
        first = _sign(service.url, client, body, "avant-remplissage")
        assert first.status_code == 200, first.text
        engine = create_engine(cluster.url)
        before = holdings(engine)

        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE lest (b bytea)"))
            # Stored as written, neither compressed nor moved aside.
            connection.execute(text("ALTER TABLE lest ALTER b SET STORAGE PLAIN"))
        filler = _fill(cluster.root)

        # A table that must grow cannot: SQLSTATE 53100, a full disk.
        with pytest.raises(DBAPIError) as raised, engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO lest SELECT convert_to(repeat(md5(i::text), 120), "
                    "'UTF8') FROM generate_series(1, 100) AS i"
                )
            )
        assert getattr(raised.value.orig, "sqlstate", None) == "53100"
        assert isinstance(storage_failure(raised.value), DiskFull)

        refused = _sign(service.url, client, body, "disque-plein")
        assert refused.status_code == 503, refused.text
        # A full table file is reported as such; were it the write-ahead log
        # that could not grow, the server would stop and restart, and say
        # it is unreachable meanwhile.
        assert refused.json()["erreur"]["code"] in (
            "espace_disque_plein",
            "base_indisponible",
        )
        assert int(refused.headers["Retry-After"]) > 0

        filler.unlink()
        during = holdings(engine)
        assert during.signatures == before.signatures
        assert during.usage == before.usage

        # Space again: the same request, with the same key, is signed (after
        # the hold of a claim made before the disk filled, if any).
        again = None
        for _ in range(60):
            again = _sign(service.url, client, body, "disque-plein")
            if again.status_code not in (409, 503):
                break
            time.sleep(1)
        assert again is not None and again.status_code == 200, again and again.text

    after = holdings(engine)
    engine.dispose()
    assert len(after.signatures) == len(before.signatures) + 1
    assert after.orphans() == []
