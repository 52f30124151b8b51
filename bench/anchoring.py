"""Anchoring benchmark: the three targets of anchoring in Bitcoin through
OpenTimestamps, measured in one run.

Run from the repository root::

    .venv/bin/python -m bench.anchoring --out docs/benchmarks.md
    .venv/bin/python -m bench.anchoring --quick          # smoke run
    .venv/bin/python -m bench.anchoring --no-postgres    # SQLite only

* **batching**: N digests queued with ``queue_for_anchoring`` (transactions
  of 500) for a provisioned client, then the anchoring worker
  (``anchoring_worker_for``) against two test calendars on loopback
  (``tests.support.ots_calendar``): gather, submit, then one more pass as the
  next interval would run it. Reported: ``POST /digest`` per calendar, the
  time to gather and submit, every record's status, the ``.ots`` proofs of a
  sample of records (size, digest, calendars). On SQLite and PostgreSQL.
* **queuing cost**: the signing request's write transaction (signature
  record, signed PDF, ``signature.signee`` event) with and without
  ``queue_for_anchoring``, the two alternating so both see the same load, on
  SQLite and on PostgreSQL (a fresh schema).
* **signing with the worker on and off**: ``sceau serve`` in a subprocess,
  once with the anchoring worker (two test calendars and a test chain served
  by this process, one pass per second) and once without; the same 1-page
  B-T signature at concurrency 4, the two configurations taking turns in
  rounds, each round on a fresh server process.

The section of ``--out`` between the ``bench:anchoring`` markers is
rewritten; the rest of the file is left alone so other benchmarks can share it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from types import FrameType, TracebackType

import httpx
from opentimestamps.core.notary import PendingAttestation
from opentimestamps.core.serialize import BytesDeserializationContext
from opentimestamps.core.timestamp import DetachedTimestampFile
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session
from tests.support.ots_calendar import (
    LoopbackCalendar,
    LoopbackChain,
    running_calendar,
    running_chain,
)
from tests.support.pdfs import one_page_pdf

from bench.harness import free_port, markers, percentile, write_section
from bench.signing import code_revision, machine_description, server_log_exceptions
from sceau.anchoring import proofs
from sceau.anchoring.calendars import HEADERS, CalendarClient
from sceau.anchoring.models import AnchorBatch, AnchorRecord
from sceau.anchoring.service import (
    STATUS_SUBMITTED,
    get_anchor,
    new_anchor_ref,
    ots_file,
    queue_for_anchoring,
)
from sceau.anchoring.worker import anchoring_worker_for
from sceau.audit.actors import Actor
from sceau.clients.provisioning import provision_system_client
from sceau.db import utcnow
from sceau.events import types as event_types
from sceau.events.service import record_event
from sceau.identities.models import Identity
from sceau.modes import pipeline
from sceau.modes.system import MODE_SYSTEM
from sceau.pki.keystore import KeyAlgorithm
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.engine import SignedPdf
from sceau.signing.models import SignatureRecord
from sceau.signing.service import NewSignature, new_signature_ref, record_signature

MARKER_START, MARKER_END = markers("anchoring")
COMMAND = ".venv/bin/python -m bench.anchoring"
SIGN_PATH = "/api/v1/sceau/b2b/signer"
LABEL = "Atlanta Assurances – système de production"
REASON = "Attestation de garantie n° 2026-04231"
POSTGRES_URL = os.environ.get(
    "SCEAU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SERVER_START_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = 60.0
QUEUE_CHUNK = 500
PROOF_SAMPLE = 50
INTERVAL_S = 1.0
CONCURRENCY = 4
LEVEL = "B-T"

# Targets from the issue.
TARGET_POSTS_PER_CALENDAR = 1
TARGET_QUEUE_P95_MS = 0.5
TARGET_SIGNING_RATIO = 1.05


class BenchmarkError(RuntimeError):
    """Something the benchmark cannot measure around."""


@dataclass(frozen=True)
class Plan:
    digests: int
    pairs_sqlite: int
    pairs_postgres: int
    rounds: int
    requests_per_round: int
    warmup_per_round: int
    calendar_calls: int

    @classmethod
    def full(cls) -> Plan:
        return cls(
            digests=10_000,
            pairs_sqlite=3000,
            pairs_postgres=2500,
            rounds=6,
            requests_per_round=200,
            warmup_per_round=30,
            calendar_calls=20,
        )

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            digests=2000,
            pairs_sqlite=300,
            pairs_postgres=300,
            rounds=2,
            requests_per_round=40,
            warmup_per_round=12,
            calendar_calls=5,
        )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


# -- fixtures ------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    data_dir: Path
    database_url: str
    client_id: str
    code_09: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Identity-API-Key": self.api_key, "Content-Type": "application/json"}


def make_runtime(data_dir: Path, database_url: str) -> Runtime:
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        log_format="text",
        log_level="WARNING",
    )
    runtime = Runtime(settings)
    runtime.prepare()
    return runtime


def provision(runtime: Runtime, data_dir: Path, algorithm: KeyAlgorithm) -> Fixture:
    with runtime.db.transaction() as session:
        made = provision_system_client(
            session,
            runtime.pki,
            runtime.sealer,
            name="Atlanta Assurances",
            label=LABEL,
            body="ATLANTASYS",
            algorithm=algorithm,
            state="production",
            by=Actor.operator(),
        )
        return Fixture(
            data_dir=data_dir,
            database_url=runtime.settings.resolved_database_url,
            client_id=made.client.id,
            code_09=made.identity.code_09,
            api_key=made.key.secret,
        )


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'sceau.db').resolve()}"


@contextmanager
def postgres_schema(admin_url: str) -> Iterator[str]:
    """A fresh schema, as tests/conftest.py's ``postgres_url``, dropped after."""
    schema = "bench_" + secrets.token_hex(6)
    admin = create_engine(admin_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        separator = "&" if "?" in admin_url else "?"
        try:
            yield f"{admin_url}{separator}options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        admin.dispose()


def probe_postgres(url: str) -> tuple[bool, str]:
    """Whether PostgreSQL answers, and its version or why not."""
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            return True, str(connection.execute(text("SHOW server_version")).scalar())
    except Exception as error:  # any reason to skip
        return False, f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
    finally:
        engine.dispose()


# -- 1. batching: N digests, one submission per calendar -----------------------


@dataclass(frozen=True)
class BatchRun:
    backend: str
    digests: int
    batch_max: int
    queue_s: float
    gather_s: float
    tree_s: float
    submit_s: float
    posts: list[int]
    next_pass_moved: int
    next_pass_posts: int
    batch_sizes: list[int]
    statuses: dict[str, int]
    proof_sizes: list[int]
    proofs_checked: int

    @property
    def submitted(self) -> int:
        return self.statuses.get(STATUS_SUBMITTED, 0)


def measure_batching(
    backend: str, data_dir: Path, database_url: str, digests: int
) -> BatchRun:
    runtime = make_runtime(data_dir, database_url)
    try:
        fixture = provision(runtime, data_dir, "ecdsa-p256")
        refs: list[str] = []
        sha256s: list[str] = []
        begin = time.perf_counter()
        for start in range(0, digests, QUEUE_CHUNK):
            with runtime.db.transaction() as session:
                for _ in range(min(QUEUE_CHUNK, digests - start)):
                    sha256 = secrets.token_hex(32)
                    sha256s.append(sha256)
                    refs.append(
                        queue_for_anchoring(
                            session, client_id=fixture.client_id, sha256=sha256
                        )
                    )
        queue_s = time.perf_counter() - begin

        with (
            running_chain() as chain,
            running_calendar(chain) as first,
            running_calendar(chain) as second,
        ):
            calendars = [first, second]
            settings = runtime.settings.model_copy(
                update={
                    "anchor_calendars": [c.url for c in calendars],
                    "anchor_header_source": f"esplora:{chain.url}",
                    "anchor_calendar_timeout_seconds": 10.0,
                }
            )
            worker = anchoring_worker_for(runtime.db, settings)
            begin = time.perf_counter()
            gathered = worker.gather()
            gather_s = time.perf_counter() - begin
            begin = time.perf_counter()
            worker.submit_due()
            submit_s = time.perf_counter() - begin
            posts = [len(c.digests_received) for c in calendars]
            # The next interval's pass: nothing queued, nothing to resubmit.
            moved = worker.run_once()
            next_posts = sum(len(c.digests_received) for c in calendars) - sum(posts)
            if gathered != digests:
                raise BenchmarkError(f"{backend}: gathered {gathered} of {digests}")

            with runtime.db.sessions() as session:
                statuses = {
                    str(status): int(count)
                    for status, count in session.execute(
                        select(AnchorRecord.status, func.count()).group_by(
                            AnchorRecord.status
                        )
                    ).all()
                }
                sizes = [int(n) for n in session.scalars(select(AnchorBatch.size))]
                sample = random.sample(range(digests), min(PROOF_SAMPLE, digests))
                proof_sizes = [
                    check_proof(
                        ots_file(get_anchor(session, fixture.client_id, refs[i])),
                        sha256s[i],
                        calendars,
                    )
                    for i in sample
                ]
        # The Merkle tree alone, on the same number of digests: the CPU part
        # of gathering (the rest is reading and updating the records).
        begin = time.perf_counter()
        proofs.build_batch([bytes.fromhex(s) for s in sha256s])
        tree_s = time.perf_counter() - begin
    finally:
        runtime.close()
    return BatchRun(
        backend=backend,
        digests=digests,
        batch_max=settings.anchor_batch_max,
        queue_s=queue_s,
        gather_s=gather_s,
        tree_s=tree_s,
        submit_s=submit_s,
        posts=posts,
        next_pass_moved=moved,
        next_pass_posts=next_posts,
        batch_sizes=sizes,
        statuses=statuses,
        proof_sizes=proof_sizes,
        proofs_checked=len(sample),
    )


def check_proof(data: bytes, sha256: str, calendars: list[LoopbackCalendar]) -> int:
    """The ``.ots`` file names the document's digest and both calendars."""
    detached = DetachedTimestampFile.deserialize(BytesDeserializationContext(data))
    if detached.file_digest != bytes.fromhex(sha256):
        raise BenchmarkError("an .ots proof is not about its document's digest")
    uris = {
        attestation.uri
        for _, attestation in detached.timestamp.all_attestations()
        if isinstance(attestation, PendingAttestation)
    }
    if uris != {c.url for c in calendars}:
        raise BenchmarkError(f"an .ots proof names calendars {sorted(uris)}")
    return len(data)


@dataclass(frozen=True)
class CalendarCost:
    """One ``POST /digest`` on loopback, as the worker makes it and through
    one kept ``httpx.Client``: wall time and this process's CPU time (the
    test calendar's handling of the request included, in both)."""

    worker_wall_s: list[float]
    worker_cpu_s: list[float]
    kept_wall_s: list[float]
    kept_cpu_s: list[float]


def measure_calendar_cost(calls: int) -> CalendarCost:
    client = CalendarClient(timeout=10.0)
    worker_wall: list[float] = []
    worker_cpu: list[float] = []
    kept_wall: list[float] = []
    kept_cpu: list[float] = []
    with (
        running_chain() as chain,
        running_calendar(chain) as calendar,
        httpx.Client(timeout=10.0, headers=HEADERS, trust_env=False) as kept,
    ):
        kept.post(f"{calendar.url}/digest", content=secrets.token_bytes(32))
        client.submit(calendar.url, secrets.token_bytes(32))
        for _ in range(calls):
            wall, cpu = time.perf_counter(), time.process_time()
            client.submit(calendar.url, secrets.token_bytes(32))
            worker_wall.append(time.perf_counter() - wall)
            worker_cpu.append(time.process_time() - cpu)
            wall, cpu = time.perf_counter(), time.process_time()
            kept.post(f"{calendar.url}/digest", content=secrets.token_bytes(32))
            kept_wall.append(time.perf_counter() - wall)
            kept_cpu.append(time.process_time() - cpu)
    return CalendarCost(worker_wall, worker_cpu, kept_wall, kept_cpu)


# -- 2. the cost of queuing, inside the signing transaction --------------------


@dataclass(frozen=True)
class QueueCost:
    backend: str
    without_s: list[float]
    with_s: list[float]

    def p50(self, with_anchor: bool) -> float:
        return statistics.median(self.with_s if with_anchor else self.without_s)

    def p95(self, with_anchor: bool) -> float:
        return percentile(self.with_s if with_anchor else self.without_s, 0.95)

    @property
    def added_p50_s(self) -> float:
        return self.p50(True) - self.p50(False)

    @property
    def added_p95_s(self) -> float:
        return self.p95(True) - self.p95(False)


def signed_sample(runtime: Runtime, fixture: Fixture) -> SignedPdf:
    """A real 1-page B-T signature: what a signing transaction stores."""
    with runtime.db.sessions() as session:
        identity = session.get(Identity, fixture.code_09)
    assert identity is not None
    return runtime.engine.sign(
        one_page_pdf(),
        key=runtime.signing_key(identity),
        reason=REASON,
        signer_name=LABEL,
        level=LEVEL,
        field_name="Sceau-SIG-20260101-BENCH0",
        trust=None,
    )


def signing_transaction(
    runtime: Runtime,
    fixture: Fixture,
    signed_pdf: bytes,
    *,
    with_anchor: bool = True,
    api_key_id: str | None = None,
    within: Callable[[Session, SignatureRecord], None] | None = None,
) -> float:
    """Commit the transaction ``sign_in_system_mode`` commits, and say how
    long it took: the signature's record (queued for anchoring, or carrying
    a reference of its own), ``within`` if given (another bench's extra
    write, once the record is stored), then the ``signature.signee`` event."""
    retention = timedelta(days=runtime.settings.retention_days)
    now = utcnow()
    ref = new_signature_ref(now)
    sha256 = secrets.token_hex(32)
    # Without anchoring, the record still carries a reference.
    placeholder = new_anchor_ref()
    begin = time.perf_counter()
    with runtime.db.transaction() as session:
        anchor_ref = (
            queue_for_anchoring(session, client_id=fixture.client_id, sha256=sha256)
            if with_anchor
            else placeholder
        )
        record = record_signature(
            session,
            NewSignature(
                ref=ref,
                client_id=fixture.client_id,
                code_09=fixture.code_09,
                mode=MODE_SYSTEM,
                level=LEVEL,
                reason=REASON,
                signer_name=LABEL,
                sha256_source=secrets.token_hex(32),
                size_source=813,
                signed_pdf=signed_pdf,
                sha256_signed=sha256,
                ref_horodatage=anchor_ref,
                callback_url=None,
                request_id="req_bench_" + secrets.token_hex(8),
                api_key_id=api_key_id,
                duration_ms=0,
                signed_at=now,
            ),
            retention,
        )
        if within is not None:
            within(session, record)
        record_event(
            session,
            client_id=fixture.client_id,
            type=event_types.SIGNATURE_SIGNEE,
            data=pipeline.signed_event_data(record),
            callback_url=None,
            subject=ref,
            now=now,
        )
    return time.perf_counter() - begin


def measure_queue_cost(
    backend: str, data_dir: Path, database_url: str, pdf: bytes | None, pairs: int
) -> tuple[QueueCost, bytes]:
    """The transaction ``sign_in_system_mode`` commits, with and without the
    anchoring record; alternating, and alternating which goes first."""
    runtime = make_runtime(data_dir, database_url)
    try:
        fixture = provision(runtime, data_dir, "ecdsa-p256")
        signed_pdf = pdf if pdf is not None else signed_sample(runtime, fixture).pdf

        def transaction(with_anchor: bool) -> float:
            return signing_transaction(
                runtime, fixture, signed_pdf, with_anchor=with_anchor
            )

        without, with_anchor = alternate(transaction, pairs)
    finally:
        runtime.close()
    return QueueCost(backend, without, with_anchor), signed_pdf


def alternate(
    step: Callable[[bool], float], pairs: int
) -> tuple[list[float], list[float]]:
    for _ in range(max(50, pairs // 10)):
        step(False)
        step(True)
    without: list[float] = []
    with_anchor: list[float] = []
    for index in range(pairs):
        order = (False, True) if index % 2 == 0 else (True, False)
        for flag in order:
            (with_anchor if flag else without).append(step(flag))
    return without, with_anchor


# -- 3. signing through `sceau serve`, the worker on and off -------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (every thread included)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields_ = stat.rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """``sceau serve`` on a free loopback port, in its own session, stopped
    whatever happens (SIGTERM to its process group, then SIGKILL)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCEAU_")}
        env.update(self.env)
        sceau = Path(sys.executable).with_name("sceau")
        command = (
            [str(sceau)] if sceau.exists() else [sys.executable, "-m", "sceau.cli"]
        )
        command += ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"server exited early:\n{log_tail(self.log_path)}")
            try:
                response = httpx.get(
                    self.base_url + "/healthz", timeout=2.0, trust_env=False
                )
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise BenchmarkError(f"server not healthy in time:\n{log_tail(self.log_path)}")

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        for sig, grace_s in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=grace_s)
                break
            except subprocess.TimeoutExpired:
                continue
        process.poll()


def log_tail(log_path: Path, limit: int = 3000) -> str:
    if not log_path.exists():
        return ""
    return log_path.read_text(errors="replace")[-limit:]


def request_body(fixture: Fixture, pdf: bytes) -> bytes:
    return json.dumps(
        {
            "code_09": fixture.code_09,
            "nom_signataire": LABEL,
            "motif": REASON,
            "pdf_b64": base64.b64encode(pdf).decode(),
            "niveau": LEVEL,
        },
        ensure_ascii=False,
    ).encode()


def describe_failure(response: httpx.Response) -> str:
    try:
        code = response.json()["erreur"]["code"]
    except (ValueError, KeyError, TypeError):
        code = "?"
    return f"HTTP {response.status_code} {code}"


@dataclass
class LoadResult:
    samples_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0


async def _load(
    base_url: str, body: bytes, headers: dict[str, str], count: int
) -> LoadResult:
    """``count`` requests with ``CONCURRENCY`` in flight, keep-alive."""
    result = LoadResult()
    limits = httpx.Limits(
        max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY
    )
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_S, trust_env=False
    ) as client:
        remaining = count

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                begin = time.perf_counter()
                response = await client.post(SIGN_PATH, content=body, headers=headers)
                elapsed = time.perf_counter() - begin
                if response.status_code != 200:
                    result.failures.append(describe_failure(response))
                    continue
                if not response.json().get("ref_horodatage", "").startswith("HRD-"):
                    result.failures.append("no ref_horodatage")
                    continue
                result.samples_s.append(elapsed)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY, count))))
        result.wall_s = time.perf_counter() - started
    return result


def http_load(server: Server, fixture: Fixture, body: bytes, count: int) -> LoadResult:
    return asyncio.run(_load(server.base_url, body, fixture.headers, count))


@dataclass
class Run:
    """One server process of one configuration, in one round."""

    config: str
    round: int
    load: LoadResult
    cpu_s: float
    posts: int  # POST /digest to the first calendar during the measured load
    upgrades: int  # GET /timestamp/<hex> to the first calendar, the same

    @property
    def cpu_per_request_s(self) -> float:
        return self.cpu_s / max(1, len(self.load.samples_s) + len(self.load.failures))


@dataclass
class ServeResult:
    runs: list[Run]
    delivery_worker: bool
    coupling_probe_posts: int
    calendar_posts: list[int]
    on_statuses: dict[str, int]
    on_batches: int
    off_statuses: dict[str, int]

    def samples(self, config: str) -> list[float]:
        return [
            s for run in self.runs if run.config == config for s in run.load.samples_s
        ]

    def failures(self, config: str) -> list[str]:
        return [
            f for run in self.runs if run.config == config for f in run.load.failures
        ]

    def p50(self, config: str) -> float:
        return statistics.median(self.samples(config))

    def p95(self, config: str) -> float:
        return percentile(self.samples(config), 0.95)

    def throughput(self, config: str) -> float:
        runs = [run for run in self.runs if run.config == config]
        return sum(len(r.load.samples_s) for r in runs) / sum(
            r.load.wall_s for r in runs
        )

    def cpu_per_request_s(self, config: str) -> float:
        runs = [run for run in self.runs if run.config == config]
        requests = sum(len(r.load.samples_s) + len(r.load.failures) for r in runs)
        return sum(r.cpu_s for r in runs) / max(1, requests)

    def on_load_s(self) -> float:
        return sum(run.load.wall_s for run in self.runs if run.config == "on")

    def on_posts(self) -> int:
        return sum(run.posts for run in self.runs if run.config == "on")

    def on_upgrades(self) -> int:
        return sum(run.upgrades for run in self.runs if run.config == "on")

    @property
    def ratio(self) -> float:
        return self.p95("on") / self.p95("off")


def serve_env(
    fixture: Fixture,
    *,
    anchoring: bool,
    delivery_worker: bool,
    calendars: list[LoopbackCalendar],
    chain: LoopbackChain,
) -> dict[str, str]:
    """Both configurations differ by SCEAU_ANCHOR_WORKER_IN_SERVE only."""
    return {
        "SCEAU_DATA_DIR": str(fixture.data_dir),
        "SCEAU_DATABASE_URL": fixture.database_url,
        "SCEAU_LOG_LEVEL": "WARNING",
        "SCEAU_WORKER_IN_SERVE": "true" if delivery_worker else "false",
        "SCEAU_ANCHOR_WORKER_IN_SERVE": "true" if anchoring else "false",
        "SCEAU_ANCHOR_CALENDARS": ",".join(c.url for c in calendars),
        "SCEAU_ANCHOR_HEADER_SOURCE": f"esplora:{chain.url}",
        "SCEAU_ANCHOR_INTERVAL_SECONDS": str(INTERVAL_S),
        # The worker reaches the calendars on loopback, never through a proxy.
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def anchoring_runs_in_serve(
    fixture: Fixture,
    calendars: list[LoopbackCalendar],
    chain: LoopbackChain,
    log_path: Path,
) -> int:
    """With SCEAU_WORKER_IN_SERVE=false and SCEAU_ANCHOR_WORKER_IN_SERVE=true,
    does `sceau serve` submit anything? The POST /digest seen in 4 intervals."""
    env = serve_env(
        fixture, anchoring=True, delivery_worker=False, calendars=calendars, chain=chain
    )
    before = len(calendars[0].digests_received)
    with Server(env, log_path) as server:
        body = request_body(fixture, one_page_pdf())
        load = http_load(server, fixture, body, 8)
        if not load.samples_s:
            raise BenchmarkError(f"probe: every request failed ({load.failures[:3]})")
        deadline = time.monotonic() + 4 * INTERVAL_S
        while time.monotonic() < deadline:
            if len(calendars[0].digests_received) > before:
                break
            time.sleep(0.1)
    return len(calendars[0].digests_received) - before


def count_upgrades(calendar: LoopbackCalendar) -> list[int]:
    """Count the calendar's answers to ``GET /timestamp/<hex>`` (its request
    handler calls ``calendar.upgrade``), in a list the caller reads."""
    counter = [0]
    original = calendar.upgrade

    def upgrade(commitment: bytes) -> bytes | None:
        counter[0] += 1
        return original(commitment)

    calendar.upgrade = upgrade  # type: ignore[method-assign]
    return counter


def anchor_counts(database_url: str) -> tuple[dict[str, int], int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            statuses = {
                str(status): int(count)
                for status, count in connection.execute(
                    select(AnchorRecord.status, func.count()).group_by(
                        AnchorRecord.status
                    )
                ).all()
            }
            batches = int(
                connection.execute(
                    select(func.count()).select_from(AnchorBatch)
                ).scalar_one()
            )
    finally:
        engine.dispose()
    return statuses, batches


def measure_serving(workdir: Path, plan: Plan, log_path: Path) -> ServeResult:
    fixtures: dict[str, Fixture] = {}
    for config in ("on", "off"):
        data_dir = workdir / f"serve-{config}"
        runtime = make_runtime(data_dir, sqlite_url(data_dir))
        try:
            fixtures[config] = provision(runtime, data_dir, "rsa3072")
        finally:
            runtime.close()
    bodies = {c: request_body(f, one_page_pdf()) for c, f in fixtures.items()}
    runs: list[Run] = []
    with (
        running_chain() as chain,
        running_calendar(chain) as first,
        running_calendar(chain) as second,
    ):
        calendars = [first, second]
        upgrades = count_upgrades(first)
        probe = anchoring_runs_in_serve(fixtures["on"], calendars, chain, log_path)
        # SCEAU_ANCHOR_WORKER_IN_SERVE only matters when the delivery worker
        # runs too (app.py); if the probe saw nothing, both configurations
        # run the delivery worker, so that they still differ by anchoring only.
        delivery = probe == 0
        print(
            f"probe: anchoring in serve with SCEAU_WORKER_IN_SERVE=false made "
            f"{probe} POST /digest; delivery worker in both: {delivery}",
            flush=True,
        )
        for index in range(plan.rounds):
            order = ("on", "off") if index % 2 == 0 else ("off", "on")
            for config in order:
                fixture = fixtures[config]
                env = serve_env(
                    fixture,
                    anchoring=config == "on",
                    delivery_worker=delivery,
                    calendars=calendars,
                    chain=chain,
                )
                with Server(env, log_path) as server:
                    warm = http_load(
                        server, fixture, bodies[config], plan.warmup_per_round
                    )
                    if not warm.samples_s:
                        raise BenchmarkError(
                            f"{config}: every warm-up request failed "
                            f"({warm.failures[:3]})"
                        )
                    posts_before = len(first.digests_received)
                    upgrades_before = upgrades[0]
                    cpu_before = cpu_seconds(server.pid)
                    load = http_load(
                        server, fixture, bodies[config], plan.requests_per_round
                    )
                    cpu = cpu_seconds(server.pid) - cpu_before
                    posts = len(first.digests_received) - posts_before
                    upgraded = upgrades[0] - upgrades_before
                if not load.samples_s:
                    raise BenchmarkError(
                        f"{config}: every request failed ({load.failures[:3]})"
                    )
                run = Run(config, index + 1, load, cpu, posts, upgraded)
                runs.append(run)
                print(
                    f"round {run.round} {config:<3} n={len(load.samples_s)} "
                    f"failed={len(load.failures)} "
                    f"p50 {ms(statistics.median(load.samples_s))} ms "
                    f"p95 {ms(percentile(load.samples_s, 0.95))} ms "
                    f"{len(load.samples_s) / load.wall_s:.1f}/s "
                    f"cpu/request {ms(run.cpu_per_request_s)} ms posts {posts} "
                    f"upgrades {upgraded}",
                    flush=True,
                )
        calendar_posts = [len(c.digests_received) for c in calendars]
    on_statuses, on_batches = anchor_counts(fixtures["on"].database_url)
    off_statuses, _ = anchor_counts(fixtures["off"].database_url)
    return ServeResult(
        runs=runs,
        delivery_worker=delivery,
        coupling_probe_posts=probe,
        calendar_posts=calendar_posts,
        on_statuses=on_statuses,
        on_batches=on_batches,
        off_statuses=off_statuses,
    )


# -- the report ----------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    met: bool
    detail: str


def target_checks(
    batching: list[BatchRun], costs: list[QueueCost], serving: ServeResult
) -> list[Check]:
    checks: list[Check] = []
    for run in batching:
        one_each = all(p == TARGET_POSTS_PER_CALENDAR for p in run.posts)
        checks.append(
            Check(
                f"{run.digests:,} digests make one submission per calendar per "
                f"interval ({run.backend})".replace(",", " "),
                one_each
                and run.next_pass_moved == 0
                and run.next_pass_posts == 0
                and run.submitted == run.digests,
                f"POST /digest per calendar: {' and '.join(map(str, run.posts))}; "
                f"{run.next_pass_posts} more on the next pass; "
                f"{run.submitted:,} of {run.digests:,} records `soumis`".replace(
                    ",", " "
                ),
            )
        )
    for cost in costs:
        added = cost.added_p95_s * 1000
        checks.append(
            Check(
                f"queuing a digest adds under {TARGET_QUEUE_P95_MS} ms at p95 to the "
                f"signing transaction ({cost.backend})",
                added < TARGET_QUEUE_P95_MS,
                f"{added:+.2f} ms at p95, {cost.added_p50_s * 1000:+.2f} ms at p50",
            )
        )
    valid = serving.on_posts() > 0
    checks.append(
        Check(
            f"signing p95 with anchoring on within {TARGET_SIGNING_RATIO - 1:.0%} of "
            "anchoring off (B-T, c=4)",
            valid and serving.ratio <= TARGET_SIGNING_RATIO,
            f"{ms(serving.p95('on'))} ms vs {ms(serving.p95('off'))} ms = "
            f"{serving.ratio:.3f}×"
            + ("" if valid else "; the anchoring-on server submitted nothing"),
        )
    )
    return checks


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
        f"opentimestamps {metadata.version('opentimestamps')}, "
        f"httpx {metadata.version('httpx')}",
    )
    return lines


def batching_table(batching: list[BatchRun]) -> list[str]:
    lines = [
        "| Backend | Digests queued | Queue (s) | Batches | POST /digest per calendar "
        "| Gather (s) | of which Merkle tree (s) | Submit (s) | Gather + submit (s) "
        "| Next pass: POSTs | Records `soumis` | `.ots` size (bytes) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in batching:
        sizes = sorted(run.proof_sizes)
        size = (
            f"{sizes[0]}" if sizes[0] == sizes[-1] else f"{sizes[0]}–{sizes[-1]}"
        ) + f" ({run.proofs_checked} checked)"
        lines.append(
            f"| {run.backend} | {run.digests} | {run.queue_s:.2f} | "
            f"{len(run.batch_sizes)} | {' / '.join(map(str, run.posts))} | "
            f"{run.gather_s:.2f} | {run.tree_s:.2f} | {run.submit_s:.3f} | "
            f"{run.gather_s + run.submit_s:.2f} | {run.next_pass_posts} | "
            f"{run.submitted} / {run.digests} | {size} |"
        )
    return lines


def queue_table(costs: list[QueueCost]) -> list[str]:
    lines = [
        "| Backend | n (each) | p50 without (ms) | p50 with (ms) | p95 without (ms) "
        "| p95 with (ms) | added at p50 (ms) | added at p95 (ms) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for cost in costs:
        lines.append(
            f"| {cost.backend} | {len(cost.with_s)} | {ms(cost.p50(False))} | "
            f"{ms(cost.p50(True))} | {ms(cost.p95(False))} | {ms(cost.p95(True))} | "
            f"{cost.added_p50_s * 1000:+.2f} | {cost.added_p95_s * 1000:+.2f} |"
        )
    return lines


def serving_table(serving: ServeResult) -> list[str]:
    names = {"on": "anchoring worker on", "off": "anchoring worker off"}
    lines = [
        "| Configuration | Rounds | n | Failed | p50 (ms) | p95 (ms) "
        "| Throughput (sig/s) | Server CPU per signature (ms) | p95 by round (ms) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for config in ("on", "off"):
        runs = [run for run in serving.runs if run.config == config]
        by_round = ", ".join(
            f"{percentile(run.load.samples_s, 0.95) * 1000:.1f}" for run in runs
        )
        lines.append(
            f"| {names[config]} | {len(runs)} | {len(serving.samples(config))} | "
            f"{len(serving.failures(config))} | {serving.p50(config) * 1000:.1f} | "
            f"{serving.p95(config) * 1000:.1f} | {serving.throughput(config):.1f} | "
            f"{serving.cpu_per_request_s(config) * 1000:.1f} | {by_round} |"
        )
    lines += [
        "",
        f"p95(on) / p95(off) = **{serving.ratio:.3f}×**; p50(on) / p50(off) = "
        f"{serving.p50('on') / serving.p50('off'):.3f}×.",
    ]
    return lines


def statuses_text(statuses: dict[str, int]) -> str:
    return ", ".join(f"{count} `{name}`" for name, count in sorted(statuses.items()))


def reading(
    batching: list[BatchRun],
    costs: list[QueueCost],
    serving: ServeResult,
    calendar: CalendarCost,
) -> list[str]:
    lines: list[str] = []
    for run in batching:
        lines.append(
            f"- {run.backend}: {run.digests} digests went into "
            f"{len(run.batch_sizes)} batch of {max(run.batch_sizes)} "
            f"(`SCEAU_ANCHOR_BATCH_MAX` {run.batch_max}), one Merkle root, "
            f"{' and '.join(map(str, run.posts))} POST /digest to the two "
            f"calendars. Gathering took {run.gather_s:.2f} s, of which the Merkle "
            f"tree (salting, hashing, paths; built outside any transaction) is "
            f"about {run.tree_s:.2f} s and the rest reading the records, then "
            f"claiming them with their paths in one short write transaction; "
            f"submitting took "
            f"{run.submit_s * 1000:.0f} ms. A document's `.ots` is "
            f"{min(run.proof_sizes)}–{max(run.proof_sizes)} bytes."
        )
    worker_cpu = statistics.median(calendar.worker_cpu_s) * 1000
    kept_cpu = statistics.median(calendar.kept_cpu_s) * 1000
    lines.append(
        "- One calendar request as the worker makes it (`CalendarClient`: one "
        "`httpx.Client` kept for every calendar, the answer parsed) costs "
        f"{worker_cpu:.1f} ms of CPU "
        f"({statistics.median(calendar.worker_wall_s) * 1000:.1f} ms wall, median "
        f"of {len(calendar.worker_cpu_s)}, the test calendar's side included) on "
        f"loopback, against {kept_cpu:.1f} ms "
        f"({statistics.median(calendar.kept_wall_s) * 1000:.1f} ms) for a bare POST "
        "through a kept client: what the worker adds is the parsing of the answer."
    )
    for cost in costs:
        lines.append(
            f"- {cost.backend}: the anchoring record adds "
            f"{cost.added_p50_s * 1000:+.2f} ms at p50 and "
            f"{cost.added_p95_s * 1000:+.2f} ms at p95 to a transaction of "
            f"{ms(cost.p50(False))} ms (p50): one more INSERT (the `anchors` row "
            "and its four secondary indexes) in a transaction that already "
            "writes the signature, the signed PDF and the event."
        )
    on_load = serving.on_load_s()
    passes = serving.on_posts() / on_load
    extra_cpu = serving.cpu_per_request_s("on") - serving.cpu_per_request_s("off")
    lines.append(
        f"- Signing: {serving.ratio:.3f}× at p95 with the worker on "
        f"({ms(serving.p95('on'))} vs {ms(serving.p95('off'))} ms), "
        f"{serving.p50('on') / serving.p50('off'):.3f}× at p50, "
        f"{serving.throughput('on') / serving.throughput('off'):.3f}× the "
        f"throughput. While measured, the anchoring-on servers made "
        f"{serving.on_posts()} POST /digest per calendar in {on_load:.1f} s of "
        f"load ({passes:.2f} per second with an interval of {INTERVAL_S:g} s: "
        "one batch per pass, whatever the volume) and "
        f"{serving.on_upgrades()} upgrade requests (`GET /timestamp/…`; a batch "
        "is first asked about `SCEAU_ANCHOR_UPGRADE_MIN_SECONDS`, 60 s, after "
        "it is submitted)."
    )
    lines.append(
        f"- The serving process spends {extra_cpu * 1000:+.2f} ms of CPU per "
        "signature with the worker on (noise around zero): the worker is a "
        "child process of `sceau serve`, not counted here, so a pass takes "
        "neither the serving process's interpreter lock nor its in-process "
        "writer lock; it shares only the machine's cores and SQLite's file lock, "
        "for the short claim transaction of each pass."
    )
    lines.append(
        "- End check: the calendars received "
        f"{' and '.join(map(str, serving.calendar_posts))} "
        f"POST /digest in all; the anchoring-on database has "
        f"{statuses_text(serving.on_statuses)} anchors in {serving.on_batches} "
        f"batches (the last interval of each server's life may be left queued for "
        f"the next one), the anchoring-off one {statuses_text(serving.off_statuses)}."
    )
    return lines


def render(
    plan: Plan,
    batching: list[BatchRun],
    costs: list[QueueCost],
    serving: ServeResult,
    calendar: CalendarCost,
    command: str,
    machine: list[str],
    notes: list[str],
) -> str:
    delivery = (
        "`SCEAU_WORKER_IN_SERVE=false` in both, so that the webhook delivery "
        "worker is not part of the comparison"
        if not serving.delivery_worker
        else "`SCEAU_WORKER_IN_SERVE=true` in both (see the notes: with `false`, "
        "`sceau serve` runs no anchoring worker at all), so that the delivery "
        "worker, with nothing to deliver, is the same on both sides"
    )
    per_config = plan.rounds * plan.requests_per_round
    lines = [
        MARKER_START,
        "## Anchoring",
        "",
        "The three targets of anchoring in Bitcoin through OpenTimestamps, in one "
        "run. The calendars and the chain are the test ones of "
        "`tests/support/ots_calendar.py`: real HTTP servers on 127.0.0.1 speaking "
        "the calendar protocol, in the benchmark's process.",
        "",
        f"- **Batching**: {plan.digests} digests queued with `queue_for_anchoring` "
        f"(transactions of {QUEUE_CHUNK}) for a provisioned client, then the "
        "anchoring worker (`anchoring_worker_for`) against two calendars: "
        "`gather()` and `submit_due()` timed apart, then `run_once()` as the "
        "next interval would run it. Every record's status is read back and the "
        f"`.ots` of {PROOF_SAMPLE} records taken at random is built "
        "(`ots_file`) and parsed: it must name the document's digest and both "
        "calendars.",
        "- **Queuing cost**: the write transaction `sign_in_system_mode` commits "
        "(signature record, the signed 1-page B-T PDF, the `signature.signee` "
        "event) with and without `queue_for_anchoring`, alternating one of each "
        "(and which goes first), after warm-ups; on SQLite in a data directory "
        "and on PostgreSQL in a fresh schema.",
        f"- **Signing**: `sceau serve` (SQLite, RSA-3072 identity, embedded TSA, "
        f"`SCEAU_LOG_LEVEL=WARNING`) in a subprocess, `POST {SIGN_PATH}` of a "
        f"1-page PDF at {LEVEL}, c={CONCURRENCY} over keep-alive connections. "
        "*On*: `SCEAU_ANCHOR_WORKER_IN_SERVE=true`, two calendars in "
        f"`SCEAU_ANCHOR_CALENDARS`, `SCEAU_ANCHOR_HEADER_SOURCE=esplora:<test "
        f"chain>`, `SCEAU_ANCHOR_INTERVAL_SECONDS={INTERVAL_S:g}`; *off*: "
        f"`SCEAU_ANCHOR_WORKER_IN_SERVE=false`, otherwise the same; {delivery}. "
        f"{plan.rounds} rounds, each a fresh server per configuration, the "
        f"order alternating (on, off, off, on, …): {plan.warmup_per_round} "
        f"warm-up requests, then {plan.requests_per_round} measured, "
        f"{per_config} per configuration in all. Server CPU is the server "
        "process's utime + stime during the measured requests. The benchmark "
        "process (load, calendars) shares the machine's cores with the server.",
        "",
        *machine,
        "",
        f"Produced by: `{command}`",
        "",
        f"### {plan.digests} digests, two calendars",
        "",
        *batching_table(batching),
        "",
        "### Queuing a digest in the signing transaction",
        "",
        *queue_table(costs),
        "",
        f"### Signing {LEVEL} at c={CONCURRENCY}, anchoring worker on and off",
        "",
        *serving_table(serving),
        "",
        "### Targets",
        "",
    ]
    lines += [
        f"- [{'x' if check.met else ' '}] {check.name}: "
        f"**{'met' if check.met else 'not met'}** ({check.detail})"
        for check in target_checks(batching, costs, serving)
    ]
    lines += ["", "### Reading", "", *reading(batching, costs, serving, calendar)]
    if notes:
        lines += ["", "### Notes", "", *[f"- {note}" for note in notes]]
    lines += ["", MARKER_END]
    return "\n".join(lines) + "\n"


# -- the run -------------------------------------------------------------------


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so that the servers are stopped.
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.anchoring", description=__doc__.split("\n\n")[0]
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    plan = Plan.quick() if args.quick else Plan.full()
    command = shlex.join(
        [*shlex.split(COMMAND), *(argv if argv is not None else sys.argv[1:])]
    )
    # Loopback only: never through a proxy the environment may name.
    os.environ["NO_PROXY"] = ",".join(
        filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"])
    )
    load_at_start = os.getloadavg()[0]
    revision = code_revision()
    workdir = Path(tempfile.mkdtemp(prefix="sceau-bench-anchoring-"))
    log_path = workdir / "server.log"
    notes: list[str] = []
    postgres_version: str | None = None
    started = time.monotonic()
    try:
        print(f"work dir {workdir}; server log {log_path}", flush=True)
        postgres = None
        if args.no_postgres:
            notes.append("PostgreSQL: not measured in this run (`--no-postgres`).")
        else:
            reachable, detail = probe_postgres(args.postgres_url)
            if reachable:
                postgres_version = detail
                postgres = args.postgres_url
            else:
                notes.append(f"PostgreSQL: not measured, not reachable ({detail}).")
                print(notes[-1], flush=True)

        batching: list[BatchRun] = []
        costs: list[QueueCost] = []
        directory = workdir / "sqlite-batch"
        batching.append(
            measure_batching("SQLite", directory, sqlite_url(directory), plan.digests)
        )
        directory = workdir / "sqlite-queue"
        cost, pdf = measure_queue_cost(
            "SQLite", directory, sqlite_url(directory), None, plan.pairs_sqlite
        )
        costs.append(cost)
        if postgres is not None:
            with postgres_schema(postgres) as url:
                batching.append(
                    measure_batching(
                        "PostgreSQL", workdir / "pg-batch", url, plan.digests
                    )
                )
            with postgres_schema(postgres) as url:
                cost, _ = measure_queue_cost(
                    "PostgreSQL", workdir / "pg-queue", url, pdf, plan.pairs_postgres
                )
                costs.append(cost)
        for run in batching:
            print(
                f"{run.backend}: {run.digests} digests, posts {run.posts}, gather "
                f"{run.gather_s:.2f} s (tree {run.tree_s:.2f} s), submit "
                f"{run.submit_s:.3f} s, next pass {run.next_pass_posts} posts, "
                f"statuses {run.statuses}, .ots {min(run.proof_sizes)}–"
                f"{max(run.proof_sizes)} bytes",
                flush=True,
            )
        for cost in costs:
            print(
                f"{cost.backend}: p95 {ms(cost.p95(False))} -> {ms(cost.p95(True))} "
                f"ms ({cost.added_p95_s * 1000:+.2f}), p50 {ms(cost.p50(False))} -> "
                f"{ms(cost.p50(True))} ms",
                flush=True,
            )
        calendar = measure_calendar_cost(plan.calendar_calls)
        serving = measure_serving(workdir, plan, log_path)
        if serving.delivery_worker:
            notes.append(
                "`sceau serve` with `SCEAU_WORKER_IN_SERVE=false` and "
                "`SCEAU_ANCHOR_WORKER_IN_SERVE=true` made "
                f"{serving.coupling_probe_posts} POST /digest in "
                f"{4 * INTERVAL_S:g} s after 8 signatures: the anchoring loop is "
                "started only when the delivery worker is (`create_app` in "
                "`src/sceau/app.py`), so with `false` the signing comparison "
                "was run with the delivery worker in both configurations."
            )
        for line, count in server_log_exceptions(log_path).most_common(5):
            notes.append(f"Server log: {count} × `{line}`.")
        if serving.on_posts() == 0:
            notes.append(
                "The anchoring-on server submitted nothing while loaded: the "
                "signing comparison does not measure the worker."
            )
        print(f"measured in {time.monotonic() - started:.0f} s", flush=True)
        section = render(
            plan,
            batching,
            costs,
            serving,
            calendar,
            command,
            machine_lines(load_at_start, revision, postgres_version),
            notes,
        )
        print()
        print(section)
        if args.out is not None:
            write_section(args.out, section, "anchoring")
            print(f"wrote {args.out}")
    except (BenchmarkError, KeyboardInterrupt) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        print(log_tail(log_path), file=sys.stderr)
        return 1
    finally:
        with suppress(OSError):
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
