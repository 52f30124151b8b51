"""Audit trail benchmark: the two targets of the tamper-evident trail
(``src/sceau/audit/``), measured in one run.

Run from the repository root::

    .venv/bin/python -m bench.audit --out docs/benchmarks.md
    .venv/bin/python -m bench.audit --quick          # smoke run, 20 000 entries
    .venv/bin/python -m bench.audit --no-postgres    # SQLite only

* **appending to a signing request**: the signing request's write transaction
  as ``bench.anchoring`` builds it (signature record with a real signed 1-page
  B-T PDF, anchoring record, ``signature.signee`` event), with and without one
  ``signature.signee`` audit entry recorded in it as the pipeline records it;
  the two alternating (and which goes first) so that both see the same load.
  The append step alone (``sceau.audit.service._write_pending``: on SQLite
  the head's ``UPDATE … RETURNING``, the entry and its look-up refs, the
  head's update; on PostgreSQL one call of ``sceau_audit_append``) is timed
  by a wrapper this process puts in its place. On SQLite and on PostgreSQL
  (a fresh schema).
* **verifying 1 000 000 entries**: a trail of 1 000 000 chained entries of
  mixed actions, built in bulk (each body made from the ``PendingEntry`` that
  ``record()`` queues, chained with ``canonical_body`` and ``entry_hash`` as
  ``_write_pending`` does; the last entry written by ``record()`` itself, in a
  real transaction, on the head the bulk load left), then ``verify_trail(db)``
  in a fresh process: seconds, entries per second, peak RSS.

The section of ``--out`` between the ``bench:audit`` markers is rewritten
(not with ``--quick``); the rest of the file is left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, select, text, update
from sqlalchemy.orm import Session
from tests.support.postgres import postgres_schema

import sceau.audit.service as audit_service
from bench.anchoring import (
    LEVEL,
    POSTGRES_URL,
    REASON,
    QueueCost,
    alternate,
    make_runtime,
    probe_postgres,
    provision,
    signed_sample,
    signing_transaction,
    sqlite_url,
)
from bench.harness import percentile, section, write_section
from bench.signing import code_revision, machine_description
from sceau.audit import actions
from sceau.audit.actors import KIND_CLIENT, Actor
from sceau.audit.models import GENESIS, AuditEntry, AuditHead, AuditRef
from sceau.audit.service import (
    _PENDING,  # what record() queues: the bulk load takes it from there
    PendingEntry,
    _references,  # the look-up refs _write_pending stores for an entry
    canonical_body,
    entry_hash,
    record,
)
from sceau.auth.service import AuthenticatedClient
from sceau.clients.models import ApiKey
from sceau.db import Database, iso_utc, utcnow
from sceau.modes.system import MODE_SYSTEM
from sceau.signing.models import SignatureRecord
from sceau.signing.service import REF_ALPHABET

NAME = "audit"
COMMAND = ".venv/bin/python -m bench.audit"
ADDRESS = "203.0.113.24"
BUILD_BATCH = 10_000
TRAIL_START = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)

# Targets from the issue.
TARGET_APPEND_P95_MS = 1.0
TARGET_VERIFY_S = 60.0
TARGET_ENTRIES = 1_000_000


class BenchmarkError(RuntimeError):
    """Something the benchmark cannot measure around."""


@dataclass(frozen=True)
class Plan:
    entries: int
    pairs_sqlite: int
    pairs_postgres: int

    @classmethod
    def full(cls) -> Plan:
        return cls(entries=TARGET_ENTRIES, pairs_sqlite=3000, pairs_postgres=2500)

    @classmethod
    def quick(cls) -> Plan:
        return cls(entries=20_000, pairs_sqlite=300, pairs_postgres=300)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def spaced(number: int) -> str:
    return f"{number:,}".replace(",", " ")


# -- 1. appending an entry, inside the signing transaction ---------------------


@dataclass(frozen=True)
class AppendCost(QueueCost):
    """``with_s``: the transaction with the audit entry; ``append_s``: the
    append step alone (``_write_pending``), in those same transactions."""

    append_s: list[float]

    @property
    def append_p50_s(self) -> float:
        return percentile(self.append_s, 0.50)

    @property
    def append_p95_s(self) -> float:
        return percentile(self.append_s, 0.95)


@contextmanager
def timed_appends() -> Iterator[list[float]]:
    """Every ``_write_pending`` of this process, timed. The ``before_commit``
    hook calls it through the module's global, so the wrapper takes effect."""
    original = audit_service._write_pending
    times: list[float] = []

    def timed(session: Session, pending: list[PendingEntry]) -> None:
        begin = time.perf_counter()
        original(session, pending)
        times.append(time.perf_counter() - begin)

    audit_service._write_pending = timed
    try:
        yield times
    finally:
        audit_service._write_pending = original


def measure_append_cost(
    backend: str, data_dir: Path, database_url: str, pdf: bytes | None, pairs: int
) -> tuple[AppendCost, bytes]:
    """The transaction ``sign_in_system_mode`` commits (as
    ``bench.anchoring.measure_queue_cost`` builds it, anchoring included),
    with and without the audit entry; alternating, and which goes first."""
    runtime = make_runtime(data_dir, database_url)
    try:
        fixture = provision(runtime, data_dir, "ecdsa-p256")
        signed_pdf = pdf if pdf is not None else signed_sample(runtime, fixture).pdf
        with runtime.db.sessions() as session:
            key_id = session.scalars(
                select(ApiKey.id).where(ApiKey.client_id == fixture.client_id)
            ).first()
        # Who asks, as the signing route names it (Actor.for_client).
        actor = Actor.for_client(
            AuthenticatedClient(client_id=fixture.client_id, api_key_id=key_id or ""),
            address=ADDRESS,
        )

        def record_in_trail(session: Session, signature: SignatureRecord) -> None:
            # As pipeline._record_in_trail records it.
            record(
                session,
                actions.SIGNATURE_SIGNEE,
                actor=actor,
                subject=signature.ref,
                objects={
                    "signature": signature.ref,
                    "identite": signature.code_09,
                    "horodatage": signature.ref_horodatage,
                },
                hashes={
                    "source": signature.sha256_source,
                    "signe": signature.sha256_signed,
                },
                details={
                    "mode": signature.mode,
                    "niveau_pades": signature.level,
                    "motif": signature.reason,
                },
                client_id=signature.client_id,
                request_id=signature.request_id or None,
                now=signature.signed_at,
            )

        def transaction(with_audit: bool) -> float:
            return signing_transaction(
                runtime,
                fixture,
                signed_pdf,
                api_key_id=key_id,
                within=record_in_trail if with_audit else None,
            )

        with timed_appends() as appends:
            without, with_audit = alternate(transaction, pairs)
        # The warm-ups' appends come first: keep the measured ones.
        measured = appends[-len(with_audit) :]
        if len(appends) < len(with_audit):
            raise BenchmarkError(f"{backend}: {len(appends)} appends timed")
    finally:
        runtime.close()
    return AppendCost(backend, without, with_audit, measured), signed_pdf


# -- 2. verifying a trail of 1 000 000 entries ---------------------------------


class _Queue:
    """Stands in for a session: ``record()`` only queues on ``info``."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}


def _suffix(number: int, length: int) -> str:
    digits = []
    for _ in range(length):
        number, digit = divmod(number, len(REF_ALPHABET))
        digits.append(REF_ALPHABET[digit])
    return "".join(reversed(digits))


class TrailMaker:
    """Entries of mixed actions, shaped like those the service records:
    half signatures through the API, the rest acts, readings, logins and
    API keys, over 40 clients and their people."""

    def __init__(self, seed: int = 18) -> None:
        self.rng = random.Random(seed)
        self.clients = [f"cli_{_suffix(n * 7919, 10).lower()}" for n in range(40)]
        self.queue = _Queue()

    def entry(self, number: int, at: datetime) -> PendingEntry:
        rng = self.rng
        client = self.clients[number % len(self.clients)]
        day = f"{at:%Y%m%d}"
        person = f"{100000000 + (number * 37) % 900000000:09d}"
        request_id = f"req_{secrets.token_hex(8)}"
        session = cast(Session, self.queue)
        kind = number % 20
        if kind < 10:
            ref = f"SIG-{day}-{_suffix(number, 6)}"
            record(
                session,
                actions.SIGNATURE_SIGNEE,
                actor=Actor(
                    kind=KIND_CLIENT,
                    id=client,
                    client_id=client,
                    key_id=f"key_{client[4:12]}",
                    level="A" if kind < 8 else "B",
                    hmac_key_id=f"hmac_{client[4:12]}" if kind >= 8 else None,
                    address=f"198.51.100.{kind + 10}",
                ),
                subject=ref,
                objects={
                    "signature": ref,
                    "identite": f"SYS{client[4:10].upper()}",
                    "horodatage": f"HRD-{_suffix(number, 8)}",
                },
                hashes={
                    "source": f"{rng.getrandbits(256):064x}",
                    "signe": f"{rng.getrandbits(256):064x}",
                },
                details={
                    "mode": MODE_SYSTEM,
                    "niveau_pades": LEVEL,
                    "motif": REASON,
                    "type_acte": "attestation" if kind % 3 == 0 else None,
                },
                client_id=client,
                request_id=request_id,
                now=at,
            )
        elif kind < 13:
            ref = f"ACT-{day}-{_suffix(number, 6)}"
            record(
                session,
                actions.ACTE_CREE,
                actor=Actor(kind=KIND_CLIENT, id=client, client_id=client),
                subject=ref,
                objects={"acte": ref, "identite": person},
                hashes={"source": f"{rng.getrandbits(256):064x}"},
                details={
                    "motif": "Avenant au contrat n° 2026-" + str(number % 10000),
                    "niveau_pades": "B-LT",
                    "expire_le": iso_utc(at + timedelta(days=30)),
                    "montant": "1250.00" if kind == 12 else None,
                },
                client_id=client,
                request_id=request_id,
                now=at,
            )
        elif kind < 16:
            ref = f"ACT-{day}-{_suffix(number - 3, 6)}"
            record(
                session,
                actions.ACTE_CONSULTE,
                actor=Actor.person(person, f"per_{person}", address=ADDRESS),
                subject=ref,
                objects={"acte": ref, "identite": person},
                details={
                    "sha256_affiche": f"{rng.getrandbits(256):064x}",
                    "pages": 1 + number % 4,
                    "statut": "en_attente",
                },
                client_id=client,
                now=at,
            )
        elif kind < 19:
            record(
                session,
                actions.CONNEXION_REUSSIE,
                actor=Actor.person(person, f"per_{person}", ADDRESS),
                subject=person,
                objects={"identite": person},
                details={"methode": "totp", "session": f"ses_{secrets.token_hex(6)}"},
                client_id=client,
                now=at,
            )
        else:
            key = f"key_{_suffix(number, 10).lower()}"
            record(
                session,
                actions.CLE_API_EMISE,
                actor=Actor.operator("exploitation"),
                subject=key,
                objects={"cle": key, "client": client},
                client_id=client,
                now=at,
            )
        pending: list[PendingEntry] = self.queue.info.pop(_PENDING)
        return pending[0]


@dataclass(frozen=True)
class VerifyRun:
    backend: str
    entries: int
    build_s: float
    database_bytes: int
    verify_s: float
    intact: bool
    verified: int
    findings: list[str]
    rss_before_kb: int
    peak_rss_kb: int

    @property
    def per_second(self) -> float:
        return self.verified / self.verify_s


def build_trail(db: Database, entries: int) -> None:
    """``entries - 1`` entries in bulk, then the last one through ``record()``,
    in a transaction of its own, on the head the bulk load left."""
    entries_table = cast(Table, AuditEntry.__table__)
    refs_table = cast(Table, AuditRef.__table__)
    head_table = cast(Table, AuditHead.__table__)
    maker = TrailMaker()
    prev, at, seq = GENESIS, TRAIL_START, 0
    bulk = entries - 1
    while seq < bulk:
        rows: list[dict[str, Any]] = []
        refs: list[dict[str, Any]] = []
        for _ in range(min(BUILD_BATCH, bulk - seq)):
            seq += 1
            at += timedelta(microseconds=maker.rng.randrange(1_000_000, 60_000_000))
            entry = maker.entry(seq, at)
            # As _write_pending makes the row.
            body = canonical_body(prev, entry)
            prev = entry_hash(body)
            rows.append(
                {
                    "seq": seq,
                    "at": entry.at,
                    "action": entry.action,
                    "client_id": entry.client_id,
                    "subject": entry.subject,
                    "body": body,
                    "hash": prev,
                }
            )
            refs.extend({"ref": ref, "seq": seq} for ref in _references(entry))
        with db.transaction() as session:
            insert_rows(session, entries_table, rows)
            insert_rows(session, refs_table, refs)
            session.execute(
                update(head_table)
                .where(head_table.c.id == audit_service.HEAD_ID)
                .values(seq=seq, hash=prev, updated_at=utcnow())
            )
    with db.transaction() as session:
        record(
            session,
            actions.CLE_API_REVOQUEE,
            actor=Actor.operator("exploitation"),
            subject="key_bench_last",
            objects={"cle": "key_bench_last", "client": maker.clients[0]},
            client_id=maker.clients[0],
            now=at + timedelta(seconds=30),
        )
    with db.sessions() as session:
        last = audit_service.head(session)
    if last[0] != entries:
        raise BenchmarkError(f"the head is at {last[0]} after building {entries}")


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """An executemany on SQLite; on PostgreSQL, a COPY through psycopg (the
    same rows: a datetime is sent as a ``timestamptz``)."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([row[name] for name in columns])


VERIFY_CHILD = """
import json, resource, sys, time
from sceau.audit.verify import verify_trail
from sceau.db import Database

def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

db = Database(sys.argv[1])
before = rss_kb()
begin = time.perf_counter()
report = verify_trail(db)
seconds = time.perf_counter() - begin
db.dispose()
print(json.dumps({
    "seconds": seconds,
    "intact": report.intact,
    "entries": report.chain.entries,
    "findings": [f.message for f in report.findings][:5],
    "rss_before_kb": before,
    "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def verify_in_child(database_url: str) -> dict[str, Any]:
    """``verify_trail`` in a fresh process, so that its peak RSS is its own
    (the build's heap stays in this one)."""
    done = subprocess.run(
        [sys.executable, "-c", VERIFY_CHILD, database_url],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchmarkError(f"verify_trail failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def trail_bytes(db: Database, database_url: str) -> int:
    """The size of the trail's tables and indexes (SQLite: the whole file)."""
    if database_url.startswith("sqlite"):
        return Path(database_url.removeprefix("sqlite:///")).stat().st_size
    with db.sessions() as session:
        total = session.execute(
            text(
                "SELECT pg_total_relation_size('audit_entries') "
                "+ pg_total_relation_size('audit_refs')"
            )
        ).scalar()
    return int(total or 0)


def measure_verify(
    backend: str, data_dir: Path, database_url: str, entries: int
) -> VerifyRun:
    runtime = make_runtime(data_dir, database_url)
    try:
        begin = time.perf_counter()
        build_trail(runtime.db, entries)
        build_s = time.perf_counter() - begin
        size = trail_bytes(runtime.db, database_url)
    finally:
        runtime.close()
    print(f"{backend}: built {entries} entries in {build_s:.1f} s", flush=True)
    result = verify_in_child(database_url)
    return VerifyRun(
        backend=backend,
        entries=entries,
        build_s=build_s,
        database_bytes=size,
        verify_s=float(result["seconds"]),
        intact=bool(result["intact"]),
        verified=int(result["entries"]),
        findings=list(result["findings"]),
        rss_before_kb=int(result["rss_before_kb"]),
        peak_rss_kb=int(result["peak_rss_kb"]),
    )


# -- the report ----------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    met: bool
    detail: str


def target_checks(costs: list[AppendCost], runs: list[VerifyRun]) -> list[Check]:
    checks: list[Check] = []
    for cost in costs:
        added = cost.added_p95_s * 1000
        checks.append(
            Check(
                f"appending an entry adds under {TARGET_APPEND_P95_MS:g} ms at p95 "
                f"to a signing request ({cost.backend})",
                added < TARGET_APPEND_P95_MS,
                f"{added:+.2f} ms added at p95; the append step alone "
                f"{ms(cost.append_p95_s)} ms at p95",
            )
        )
    for run in runs:
        scaled = run.entries != TARGET_ENTRIES
        checks.append(
            Check(
                f"verifying {spaced(TARGET_ENTRIES)} entries takes under "
                f"{TARGET_VERIFY_S:g} s ({run.backend})",
                run.intact
                and run.verified == run.entries
                and not scaled
                and run.verify_s < TARGET_VERIFY_S,
                f"{run.verify_s:.1f} s for {spaced(run.verified)} entries, "
                f"{'intact' if run.intact else 'NOT intact'}"
                + (" (a --quick run: not the target's size)" if scaled else ""),
            )
        )
    return checks


def append_table(costs: list[AppendCost]) -> list[str]:
    lines = [
        "| Backend | n (each) | p50 without (ms) | p50 with (ms) | p95 without (ms) "
        "| p95 with (ms) | added at p50 (ms) | added at p95 (ms) "
        "| append step p50 (ms) | append step p95 (ms) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for cost in costs:
        lines.append(
            f"| {cost.backend} | {len(cost.with_s)} | {ms(cost.p50(False))} | "
            f"{ms(cost.p50(True))} | {ms(cost.p95(False))} | {ms(cost.p95(True))} | "
            f"{cost.added_p50_s * 1000:+.2f} | {cost.added_p95_s * 1000:+.2f} | "
            f"{ms(cost.append_p50_s)} | {ms(cost.append_p95_s)} |"
        )
    return lines


def verify_table(runs: list[VerifyRun]) -> list[str]:
    lines = [
        "| Backend | Entries | Build (s) | Trail on disk (MB) | verify_trail (s) "
        "| Entries per second | Result | RSS before (MB) | Peak RSS (MB) |",
        "|---|--:|--:|--:|--:|--:|---|--:|--:|",
    ]
    for run in runs:
        result = (
            f"intact, {spaced(run.verified)} entries"
            if run.intact
            else f"**not intact**: {'; '.join(run.findings)}"
        )
        lines.append(
            f"| {run.backend} | {spaced(run.entries)} | {run.build_s:.1f} | "
            f"{run.database_bytes / 1e6:.0f} | {run.verify_s:.1f} | "
            f"{spaced(round(run.per_second))} | {result} | "
            f"{run.rss_before_kb / 1024:.0f} | {run.peak_rss_kb / 1024:.0f} |"
        )
    return lines


def render(
    plan: Plan,
    costs: list[AppendCost],
    runs: list[VerifyRun],
    notes: list[str],
) -> list[str]:
    checks = target_checks(costs, runs)
    lines = [
        "What the audit trail costs where it is written and where it is read.",
        "",
        "- **Appending to a signing request**: the write transaction "
        "`sign_in_system_mode` commits, as `bench.anchoring` builds it (signature "
        f"record with the signed 1-page {LEVEL} PDF, anchoring record, "
        "`signature.signee` event), with and without one `signature.signee` "
        "entry recorded in it as the pipeline records it (a client actor from "
        "`Actor.for_client`, the signature, identity and timestamp references, "
        "both hashes, mode, level and reason). One of each alternating, and "
        "which goes first, after warm-ups; on SQLite in a data directory and on "
        "PostgreSQL in a fresh schema. The *append step* is "
        "`sceau.audit.service._write_pending` alone, timed by a wrapper in its "
        "place: on SQLite the head's `UPDATE … RETURNING` (its lock), the "
        "chaining, the entry's and its look-up refs' INSERTs and the head's "
        "UPDATE; on PostgreSQL one round trip, `sceau_audit_append` (migration "
        "0018), which does the same in the database; the commit is in neither.",
        f"- **Verifying {spaced(plan.entries)} entries**: a trail of mixed "
        "actions (half `signature.signee`, then `acte.cree`, `acte.consulte`, "
        "`connexion.reussie`, `cle_api.emise`) built in bulk: each entry is the "
        "`PendingEntry` `record()` queues, chained with `canonical_body` and "
        f"`entry_hash` as `_write_pending` chains it, inserted {spaced(BUILD_BATCH)} "
        "to a transaction with their look-up refs and the head (an executemany on "
        "SQLite, `COPY` on PostgreSQL); the last entry is "
        "written by `record()` in a transaction of its own, on the head the bulk "
        "load left. Then `verify_trail(db)` (one snapshot, every hash, link and "
        "column, the head, the anchors: there are none) in a fresh Python "
        "process, the database just written (in the OS cache). Peak RSS is that "
        "process's `ru_maxrss`; *RSS before* is its size once the service's "
        "modules are imported, before the walk. *Trail on disk*: the SQLite "
        "file, or PostgreSQL's `audit_entries` and `audit_refs` with their "
        "indexes.",
        "",
        "### Appending one entry in the signing transaction",
        "",
        *append_table(costs),
        "",
        f"### Verifying a trail of {spaced(plan.entries)} entries",
        "",
        *verify_table(runs),
        "",
        "### Targets",
        "",
        *[
            f"- [{'x' if check.met else ' '}] {check.name}: "
            f"**{'met' if check.met else 'not met'}** ({check.detail})"
            for check in checks
        ],
    ]
    if notes:
        lines += ["", "### Notes", "", *[f"- {note}" for note in notes]]
    return lines


def machine_lines(
    load_at_start: float, revision: str, postgres_version: str | None
) -> list[str]:
    lines = machine_description(load_at_start, revision)
    databases = f"SQLite {sqlite3.sqlite_version}"
    if postgres_version is not None:
        databases += f", PostgreSQL {postgres_version} (local, loopback)"
    lines.insert(
        2,
        f"- {databases}; SQLAlchemy {metadata.version('SQLAlchemy')}, "
        f"psycopg {metadata.version('psycopg')}",
    )
    return lines


# -- the run -------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.audit", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=None, help="Markdown to update.")
    parser.add_argument("--quick", action="store_true", help="A short smoke run.")
    parser.add_argument(
        "--no-postgres", action="store_true", help="Measure SQLite only."
    )
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help="An administrative URL; a fresh schema is made and dropped.",
    )
    return parser.parse_args(argv)


@contextmanager
def database_url(backend: str, directory: Path, postgres: str | None) -> Iterator[str]:
    """SQLite in ``directory``, or a fresh PostgreSQL schema, dropped after."""
    if backend == "SQLite" or postgres is None:
        yield sqlite_url(directory)
        return
    with postgres_schema(postgres, prefix="bench_") as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan.quick() if args.quick else Plan.full()
    command = shlex.join(
        [*shlex.split(COMMAND), *(argv if argv is not None else sys.argv[1:])]
    )
    load_at_start = os.getloadavg()[0]
    revision = code_revision()
    workdir = Path(tempfile.mkdtemp(prefix="sceau-bench-audit-"))
    notes: list[str] = []
    postgres_version: str | None = None
    postgres: str | None = None
    started = time.monotonic()
    try:
        if args.no_postgres:
            notes.append("PostgreSQL: not measured in this run (`--no-postgres`).")
        else:
            reachable, detail = probe_postgres(args.postgres_url)
            if reachable:
                postgres_version, postgres = detail, args.postgres_url
            else:
                notes.append(f"PostgreSQL: not measured, not reachable ({detail}).")
                print(notes[-1], flush=True)

        costs: list[AppendCost] = []
        runs: list[VerifyRun] = []
        pdf: bytes | None = None
        backends = ["SQLite", *(["PostgreSQL"] if postgres is not None else [])]
        for backend in backends:
            pairs = plan.pairs_sqlite if backend == "SQLite" else plan.pairs_postgres
            directory = workdir / f"{backend.lower()}-append"
            with database_url(backend, directory, postgres) as url:
                cost, pdf = measure_append_cost(backend, directory, url, pdf, pairs)
            costs.append(cost)
            print(
                f"{backend}: p95 {ms(cost.p95(False))} -> {ms(cost.p95(True))} ms "
                f"({cost.added_p95_s * 1000:+.2f}), p50 {ms(cost.p50(False))} -> "
                f"{ms(cost.p50(True))} ms ({cost.added_p50_s * 1000:+.2f}); append "
                f"step p50 {ms(cost.append_p50_s)}, p95 {ms(cost.append_p95_s)} ms",
                flush=True,
            )
            directory = workdir / f"{backend.lower()}-trail"
            with database_url(backend, directory, postgres) as url:
                run = measure_verify(backend, directory, url, plan.entries)
            runs.append(run)
            print(
                f"{backend}: verify_trail {run.verify_s:.1f} s for {run.verified} "
                f"entries ({run.per_second:.0f}/s), intact {run.intact}, peak RSS "
                f"{run.peak_rss_kb / 1024:.0f} MB "
                f"(before {run.rss_before_kb / 1024:.0f})",
                flush=True,
            )
        print(f"measured in {time.monotonic() - started:.0f} s", flush=True)
        cores = len(os.sched_getaffinity(0))
        if load_at_start > cores:
            notes.append(
                f"The machine was shared: 1-minute load average {load_at_start:.2f} "
                f"at start on {cores} cores, so the figures carry other work's "
                "noise (the two sides of each comparison saw the same load)."
            )
        machine = machine_lines(load_at_start, revision, postgres_version)
        title = "Audit trail: appending and verifying"
        text_ = section(NAME, title, command, machine, render(plan, costs, runs, notes))
        print()
        print(text_)
        if args.out is not None:
            if args.quick:
                print(f"--quick: {args.out} left as it is")
            else:
                write_section(args.out, text_, NAME)
                print(f"wrote {args.out}")
    except (BenchmarkError, KeyboardInterrupt) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
