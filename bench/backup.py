"""Backup and restore on 100 000 signature records: the technical part of
the recovery time objective (RTO).

Run from the repository root::

    .venv/bin/python -m bench.backup --out docs/benchmarks.md
    .venv/bin/python -m bench.backup --quick          # smoke run, 2 000 rows

One document is signed through the API (level B-LT, 1-page PDF); its rows
(``signatures``, ``signed_documents``, ``anchors``) are then copied in bulk
into 100 000 records, each with its own reference, request id and digest.
Each copy's signed file has the real file's size but random bytes, so that
neither SQLite nor ``pg_dump``'s compression profits from 100 000 identical
files. Then, on SQLite and on the local PostgreSQL (one fresh schema each):

* **create**: ``create_backup``, as ``sceau backup create`` runs it: the
  database's consistent copy (SQLite's online backup API, or ``pg_dump`` on
  an exported snapshot), every member hashed, the whole encrypted
  (AES-256-GCM, in chunks) into one file;
* **restore**: ``restore_backup``, as ``sceau backup restore`` runs it, into a
  new data directory and database: the file decrypted and checked whole,
  the database put back (a file move, or ``pg_restore``), migrations to head,
  every table counted against the manifest;
* **first start**: a runtime prepared on what was restored (migrations
  checked, PKI loaded) and one signature record read back.

The section of ``--out`` between the ``bench:backup`` markers is rewritten;
the rest of the file is left alone.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from fastapi.testclient import TestClient
from sqlalchemy import Table, create_engine, func, select, text
from sqlalchemy.engine import make_url
from tests.conftest import provision, sign_body
from tests.support.pdfs import one_page_pdf
from tests.support.postgres import postgres_schema

from bench.harness import out_and_quick, section, write_section
from bench.signing import code_revision, machine_description
from sceau.anchoring.models import AnchorRecord
from sceau.app import create_app
from sceau.backup.service import create_backup, restore_backup
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.models import SignatureRecord, SignedDocument

SIGN = "/api/v1/sceau/b2b/signer"
POSTGRES_URL = os.environ.get(
    "SCEAU_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BATCH = 2000


@dataclass(frozen=True)
class Measure:
    backend: str
    rows: int
    database_bytes: int
    backup_bytes: int
    create_s: float
    restore_s: float
    first_start_s: float


def settings_for(data_dir: Path, url: str) -> Settings:
    return Settings(
        data_dir=data_dir, database_url=url, log_format="text", log_level="WARNING"
    )


@contextmanager
def new_database() -> Iterator[str]:
    """A new database on the local PostgreSQL, dropped afterwards."""
    name = "sceau_bench_" + secrets.token_hex(5)
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def sign_one(runtime: Runtime) -> str:
    client = provision(runtime)
    with TestClient(create_app(runtime.settings, runtime)) as api:
        response = api.post(
            SIGN, json=sign_body(client, one_page_pdf()), headers=client.headers
        )
        if response.status_code != 200:
            raise RuntimeError(f"signing failed: HTTP {response.status_code}")
        ref: str = response.json()["ref_signature"]
        return ref


def _row(table: Table, session: Any, key: Any, ref: str) -> dict[str, Any]:
    found = session.execute(select(table).where(key == ref)).mappings().one()
    return dict(found)


def fill(runtime: Runtime, ref: str, rows: int) -> None:
    """``rows`` copies of the signed record ``ref``, in bulk."""
    signatures = cast(Table, SignatureRecord.__table__)
    documents = cast(Table, SignedDocument.__table__)
    anchors = cast(Table, AnchorRecord.__table__)
    with runtime.db.sessions() as session:
        signature = _row(signatures, session, signatures.c.ref, ref)
        document = _row(documents, session, documents.c.ref, ref)
        anchor = _row(anchors, session, anchors.c.ref, signature["ref_horodatage"])
    size = len(document["pdf"])
    for start in range(0, rows, BATCH):
        batch_signatures, batch_documents, batch_anchors = [], [], []
        for number in range(start, min(start + BATCH, rows)):
            pdf = b"%PDF-1.7\n" + os.urandom(size - 9)
            digest = hashlib.sha256(pdf).hexdigest()
            sig_ref = f"SIG-BENCH{number:010d}"
            anchor_ref = f"HRD-B{number:011d}"
            batch_signatures.append(
                signature
                | {
                    "ref": sig_ref,
                    "sha256_signed": digest,
                    "ref_horodatage": anchor_ref,
                    "request_id": f"req-bench-{number}",
                }
            )
            batch_documents.append({"ref": sig_ref, "pdf": pdf})
            batch_anchors.append(anchor | {"ref": anchor_ref, "sha256": digest})
        with runtime.db.transaction() as session:
            session.execute(signatures.insert(), batch_signatures)
            session.execute(documents.insert(), batch_documents)
            session.execute(anchors.insert(), batch_anchors)


def database_bytes(url: str) -> int:
    if url.startswith("sqlite"):
        return Path(url.removeprefix("sqlite:///")).stat().st_size
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            total = connection.execute(
                text(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :schema AND c.relkind = 'r'"
                ),
                {"schema": schema},
            ).scalar_one()
            return int(total)
    finally:
        engine.dispose()


def measure(backend: str, rows: int, work: Path) -> Measure:
    key = secrets.token_bytes(32)
    source_dir, target_dir = work / "var", work / "restored"
    with _urls(backend, source_dir, target_dir) as (source_url, target_url):
        runtime = Runtime(settings_for(source_dir, source_url))
        runtime.prepare()
        try:
            fill(runtime, sign_one(runtime), rows - 1)
        finally:
            runtime.close()
        size = database_bytes(source_url)

        archive = work / "backups" / "bench.sceau-backup"
        started = time.perf_counter()
        create_backup(
            data_dir=source_dir, database_url=source_url, output=archive, key=key
        )
        create_s = time.perf_counter() - started

        started = time.perf_counter()
        restored = restore_backup(
            archive, key, data_dir=target_dir, database_url=target_url
        )
        restore_s = time.perf_counter() - started
        if restored.mismatches or restored.counts.get("signatures") != rows:
            raise RuntimeError(f"restore check failed: {restored.mismatches}")

        started = time.perf_counter()
        service = Runtime(settings_for(target_dir, target_url))
        service.prepare()
        with service.db.sessions() as session:
            session.execute(select(func.count()).select_from(SignatureRecord)).scalar()
        service.close()
        first_start_s = time.perf_counter() - started
        backup_size = archive.stat().st_size
    return Measure(backend, rows, size, backup_size, create_s, restore_s, first_start_s)


@contextmanager
def _urls(backend: str, source: Path, target: Path) -> Iterator[tuple[str, str]]:
    if backend == "sqlite":
        yield f"sqlite:///{source / 'sceau.db'}", f"sqlite:///{target / 'sceau.db'}"
        return
    with (
        postgres_schema(POSTGRES_URL, prefix="bench_") as source_url,
        new_database() as database,
    ):
        # As a restore on a new server would be: the same schema name in
        # a new database (restoring beside the live schema, under another
        # name, takes the slower renaming path).
        restored = make_url(source_url).set(database=database)
        yield source_url, restored.render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> int:
    args = out_and_quick(__doc__.split("\n")[0], argv)
    load_at_start = os.getloadavg()[0]
    rows = 2_000 if args.quick else 100_000
    results = []
    for backend in ("sqlite", "postgresql"):
        work = Path(tempfile.mkdtemp(prefix=f"sceau-bench-backup-{backend}-"))
        try:
            results.append(measure(backend, rows, work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(results[-1], flush=True)

    lines = [
        f"{rows:,}".replace(",", " ")
        + " signature records (each with its signed file, of a real B-LT "
        "1-page signature's size, and its anchoring record); the restore goes "
        "into a new data directory and a new database (PostgreSQL: the same "
        "schema name in a new database).",
        "",
        "| database | data (MB) | backup file (MB) | create (s) | restore (s) "
        "| first start (s) | restore + first start (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in results:
        lines.append(
            f"| {m.backend} | {m.database_bytes / 1e6:.0f} "
            f"| {m.backup_bytes / 1e6:.0f} "
            f"| {m.create_s:.1f} | {m.restore_s:.1f} | {m.first_start_s:.1f} "
            f"| {m.restore_s + m.first_start_s:.1f} |"
        )
    lines += [
        "",
        "PostgreSQL's backup file is about twice its data: `pg_dump` writes "
        "`bytea` as hexadecimal text and is told not to compress (the signed "
        "files, most of the bytes, are compressed already; see "
        'docs/operations.md, "Backup and restore").',
        "",
        "The RTO's technical part is the last column: from the backup file to a "
        "service that answers. Fetching the file and the keys, and the "
        "operator's decisions, come on top (docs/operations.md, \"Backup and "
        'restore").',
    ]
    print("\n".join(lines))
    if args.out is not None and not args.quick:
        command = "python -m bench.backup --out " + str(args.out)
        machine = machine_description(load_at_start, code_revision())
        text_ = section("backup", "Backup and restore (RTO)", command, machine, lines)
        write_section(args.out, text_, "backup")
    return 0


if __name__ == "__main__":
    sys.exit(main())
