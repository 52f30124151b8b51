"""Events benchmark: what writing the event costs a signing request, and how
many webhooks one worker delivers per second to a local receiver.

Run from the repository root::

    .venv/bin/python -m bench.events --out docs/benchmarks.md
    .venv/bin/python -m bench.events --quick          # smoke run

* **event write**: the signing request's database transaction (anchoring
  record, signature record with its PDF, idempotency-free) timed with and
  without the ``signature.signee`` event and its delivery to a callback URL,
  the two variants alternating so that both see the same background load;
  then the whole in-process signing (``sign_in_system_mode``, B-B) the same way.
* **worker throughput**: N events to one endpoint, delivered by one
  ``DeliveryWorker`` (the one ``sceau worker`` runs) to an HTTP/1.1 receiver
  in another process on 127.0.0.1, on SQLite and, when it answers, on the
  local PostgreSQL.

The section of ``--out`` between the ``bench:events`` markers is rewritten;
the rest of the file is left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import secrets
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from tests.support.pdfs import one_page_pdf

from bench.harness import markers, write_section
from bench.signing import code_revision, machine_description
from sceau.anchoring.service import queue_for_anchoring
from sceau.audit.actors import Actor
from sceau.clients.provisioning import provision_system_client
from sceau.db import utcnow
from sceau.events import types
from sceau.events.service import emit, record_event
from sceau.events.worker import DeliveryWorker
from sceau.modes import pipeline, system
from sceau.modes.system import MODE_SYSTEM, SystemSignatureRequest
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.service import NewSignature, new_signature_ref, record_signature
from sceau.webhooks.service import add_endpoint
from sceau.webhooks.signatures import SecretBox

MARKER_START, MARKER_END = markers("events")
LABEL = "Atlanta Assurances – système de production"
POSTGRES_URL = os.environ.get(
    "SCEAU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_EVENT_P95_MS = 1.0
TARGET_DELIVERIES_PER_S = 200.0

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.daemon_threads = True
server.serve_forever()
"""


@dataclass(frozen=True)
class Pair:
    name: str
    without_s: list[float]
    with_s: list[float]

    def p95(self, samples: list[float]) -> float:
        ordered = sorted(samples)
        return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1] * 1000

    def median(self, samples: list[float]) -> float:
        return statistics.median(samples) * 1000


@dataclass(frozen=True)
class Throughput:
    backend: str
    deliveries: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.deliveries / self.seconds


# -- fixtures ------------------------------------------------------------------


def make_runtime(data_dir: Path, database_url: str) -> Runtime:
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        log_format="text",
        log_level="WARNING",
        allow_http_loopback_callbacks=True,
        default_level="B-B",
    )
    runtime = Runtime(settings)
    runtime.prepare()
    return runtime


def provision(runtime: Runtime, body: str) -> tuple[str, str]:
    with runtime.db.transaction() as session:
        made = provision_system_client(
            session,
            runtime.pki,
            runtime.sealer,
            name="Atlanta Assurances",
            label=LABEL,
            body=body,
            algorithm="ecdsa-p256",
            state="production",
            by=Actor.operator(),
        )
        return made.client.id, made.identity.code_09


@contextmanager
def receiver_process() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(10)


# -- the event write -----------------------------------------------------------


def measure_transaction(
    runtime: Runtime, client_id: str, code_09: str, runs: int
) -> Pair:
    """The signing transaction, alternately without and with the event."""
    pdf = one_page_pdf() * 20  # the weight of a small signed PDF
    callback = "https://atlanta.example.ci/sceau/callback"

    def transaction(with_event: bool) -> float:
        now = utcnow()
        ref = new_signature_ref(now)
        started = time.perf_counter()
        with runtime.db.transaction() as session:
            anchor = queue_for_anchoring(session, client_id=client_id, sha256="0" * 64)
            record = record_signature(
                session,
                NewSignature(
                    ref=ref,
                    client_id=client_id,
                    code_09=code_09,
                    mode=MODE_SYSTEM,
                    level="B-B",
                    reason="Attestation de garantie n° 2026-04231",
                    signer_name=LABEL,
                    sha256_source=hashlib.sha256(pdf).hexdigest(),
                    size_source=len(pdf),
                    signed_pdf=pdf,
                    sha256_signed=hashlib.sha256(pdf + ref.encode()).hexdigest(),
                    ref_horodatage=anchor,
                    callback_url=callback if with_event else None,
                    request_id="req_bench",
                    api_key_id=None,
                    duration_ms=0,
                    signed_at=now,
                ),
                timedelta(days=1),
            )
            if with_event:
                record_event(
                    session,
                    client_id=client_id,
                    type=types.SIGNATURE_SIGNEE,
                    data=pipeline.signed_event_data(record),
                    callback_url=callback,
                    subject=ref,
                    now=now,
                )
        return time.perf_counter() - started

    return alternate("signing transaction", transaction, runs)


def measure_signing(runtime: Runtime, client_id: str, code_09: str, runs: int) -> Pair:
    """The whole in-process signing (B-B), alternately without and with the
    event: without it, ``record_event`` is replaced by a no-op."""
    pdf = one_page_pdf()
    real = pipeline.record_event

    def sign(with_event: bool) -> float:
        pipeline.record_event = real if with_event else _no_event  # type: ignore[assignment]
        request = SystemSignatureRequest(
            code_09=code_09,
            signer_name=LABEL,
            reason="Attestation de garantie n° 2026-04231",
            pdf=pdf,
            level="B-B",
            callback_url="https://atlanta.example.ci/sceau/callback",
        )
        started = time.perf_counter()
        try:
            system.sign_in_system_mode(
                runtime,
                request,
                client_id=client_id,
                api_key_id=None,
                request_id="req_bench",
                started=started,
                actor=Actor(kind="client", id=client_id, client_id=client_id),
            )
        finally:
            pipeline.record_event = real
        return time.perf_counter() - started

    return alternate("whole signing, B-B, in-process", sign, runs)


def _no_event(*args: object, **kwargs: object) -> None:
    return None


def alternate(name: str, step: Callable[[bool], float], runs: int) -> Pair:
    for _ in range(max(3, runs // 10)):
        step(False)
        step(True)
    without, with_event = [], []
    for index in range(runs):
        # Alternate which goes first, so neither always follows the other.
        order = (False, True) if index % 2 == 0 else (True, False)
        for flag in order:
            (with_event if flag else without).append(step(flag))
    return Pair(name, without, with_event)


# -- worker throughput ---------------------------------------------------------


def measure_worker(runtime: Runtime, client_id: str, port: int, count: int) -> float:
    box = SecretBox(runtime.settings.load_master_key())
    with runtime.db.transaction() as session:
        add_endpoint(
            session,
            box,
            client_id=client_id,
            url=f"http://127.0.0.1:{port}/rappel",
            allow_http_loopback=True,
        )
    warm = 50
    with runtime.db.transaction() as session:
        for number in range(warm + count):
            emit(
                session,
                client_id=client_id,
                type=types.HORODATAGE_CONFIRME,
                data={"ref_horodatage": f"HRD-{number:08d}"},
            )
    worker = DeliveryWorker.for_runtime(runtime, worker_id="bench")
    made = 0
    while made < warm:
        made += worker.run_once()
    started = time.perf_counter()
    delivered = 0
    while delivered < count:
        step = worker.run_once()
        if step == 0:
            break
        delivered += step
    seconds = time.perf_counter() - started
    worker.close()
    return seconds if delivered >= count else float("inf")


@contextmanager
def postgres_schema() -> Iterator[str | None]:
    schema = "bench_" + secrets.token_hex(4)
    try:
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception:  # no PostgreSQL here: measure SQLite only
        yield None
        return
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# -- the report ----------------------------------------------------------------


def render(
    pairs: list[Pair], rates: list[Throughput], command: str, load: float, rev: str
) -> str:
    lines = [
        MARKER_START,
        "## Events",
        "",
        "- **Event write**: the signing request's transaction (anchoring record, "
        "signature record with a 17 KB PDF) without and with the "
        "`signature.signee` event and its delivery row to the request's "
        "`callback_url`, alternating, on SQLite in the data directory; then the "
        "whole in-process signing (`sign_in_system_mode`, B-B, ECDSA P-256) the "
        "same way, the event write replaced by a no-op for *without*.",
        "- **Worker throughput**: events to one endpoint, delivered by one "
        "`DeliveryWorker` (what `sceau worker` runs; batches of 50 per "
        "destination) to an HTTP/1.1 keep-alive receiver in another process on "
        "127.0.0.1 answering 204; each delivery signed (Standard Webhooks), its "
        "URL checked, its attempt and outcome committed. After 50 warm-ups.",
        "",
        *machine_description(load, rev),
        "",
        f"Produced by: `{command}`",
        "",
        "| Measured | n (each) | Median without (ms) | Median with (ms) "
        "| p95 without (ms) | p95 with (ms) | p95 added (ms) | p95 ratio |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for pair in pairs:
        p95_without, p95_with = pair.p95(pair.without_s), pair.p95(pair.with_s)
        lines.append(
            f"| {pair.name} | {len(pair.with_s)} | {pair.median(pair.without_s):.2f} "
            f"| {pair.median(pair.with_s):.2f} | {p95_without:.2f} | {p95_with:.2f} "
            f"| {p95_with - p95_without:+.2f} | {p95_with / p95_without:.2f}× |"
        )
    lines += [
        "",
        "| Backend | Deliveries | Seconds | Deliveries/s |",
        "|---|--:|--:|--:|",
    ]
    for rate in rates:
        lines.append(
            f"| {rate.backend} | {rate.deliveries} | {rate.seconds:.2f} "
            f"| {rate.per_second:.0f} |"
        )
    transaction = pairs[0]
    added = transaction.p95(transaction.with_s) - transaction.p95(transaction.without_s)
    slowest = min(rate.per_second for rate in rates)
    lines += [
        "",
        "### Targets",
        "",
        f"- [{'x' if added < TARGET_EVENT_P95_MS else ' '}] the event adds under "
        f"{TARGET_EVENT_P95_MS:g} ms at p95 to the signing transaction: "
        f"**{'met' if added < TARGET_EVENT_P95_MS else 'not met'}** ({added:+.2f} ms)",
        f"- [{'x' if slowest >= TARGET_DELIVERIES_PER_S else ' '}] one worker "
        f"delivers at least {TARGET_DELIVERIES_PER_S:g} webhooks/s: "
        f"**{'met' if slowest >= TARGET_DELIVERIES_PER_S else 'not met'}** "
        f"(slowest backend {slowest:.0f}/s)",
        "",
        MARKER_END,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events")
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--out", type=Path, default=None, help="markdown to update")
    args = parser.parse_args(argv)
    runs, count = (40, 300) if args.quick else (400, 3000)
    command = shlex.join(
        [".venv/bin/python", "-m", "bench.events", *(argv or sys.argv[1:])]
    )
    load, rev = os.getloadavg()[0], code_revision()

    data_dir = Path(tempfile.mkdtemp(prefix="sceau-bench-events-"))
    rates: list[Throughput] = []
    try:
        runtime = make_runtime(data_dir, f"sqlite:///{data_dir / 'sceau.db'}")
        client_id, code_09 = provision(runtime, "ATLANTASYS")
        pairs = [
            measure_transaction(runtime, client_id, code_09, runs),
            measure_signing(runtime, client_id, code_09, runs // 4),
        ]
        for pair in pairs:
            print(
                pair.name,
                f"p95 {pair.p95(pair.without_s):.2f} -> {pair.p95(pair.with_s):.2f} ms",
                flush=True,
            )
        with receiver_process() as port:
            worker_client, _ = provision(runtime, "BENCHSYS")
            seconds = measure_worker(runtime, worker_client, port, count)
            rates.append(Throughput("SQLite (WAL)", count, seconds))
            runtime.close()
            with postgres_schema() as url:
                if url is not None:
                    pg_dir = data_dir / "pg"
                    shutil.copytree(data_dir / "pki", pg_dir / "pki")
                    shutil.copy2(data_dir / "master.key", pg_dir / "master.key")
                    pg = make_runtime(pg_dir, url)
                    pg_client, _ = provision(pg, "BENCHPG")
                    seconds = measure_worker(pg, pg_client, port, count)
                    rates.append(Throughput("PostgreSQL (local)", count, seconds))
                    pg.close()
        for rate in rates:
            print(f"{rate.backend}: {rate.per_second:.0f} deliveries/s", flush=True)
        section = render(pairs, rates, command, load, rev)
        print(section)
        if args.out is not None:
            write_section(args.out, section, "events")
            print(f"wrote {args.out}")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
