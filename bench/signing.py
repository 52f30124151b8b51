"""Signing benchmark: stock pyHanko, the tuned engine (the floor) and the service.

Run from the repository root::

    .venv/bin/python -m bench.signing --out docs/benchmarks.md
    .venv/bin/python -m bench.signing --quick          # smoke run, ~5x shorter

Everything is measured in one run, on one machine, with one RSA-3072 identity
made by the service's own PKI, so the numbers are meant to be read as ratios:

* ``stock``  pyHanko as shipped: ``SimpleSigner`` + ``DummyTimeStamper`` (both
  re-parse their private key on each signature), no ``bytes_reserved`` (so
  pyHanko signs twice to learn the size), in-process;
* ``floor``  the service's engine alone, in-process: ``KeptKeySigner`` +
  ``EmbeddedTimeStamper`` + ``bytes_reserved`` via ``runtime.engine.sign``;
* ``http``   ``sceau serve`` in a subprocess on 127.0.0.1, called with httpx over
  keep-alive connections, at concurrency 1 and 8, and at 8 with ``--workers 2``.

The section of ``--out`` between the ``bench:signing`` markers is rewritten; the
rest of the file is left alone so other benchmarks can share it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ctypes
import gc
import hashlib
import json
import logging
import math
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from io import BytesIO
from pathlib import Path
from types import TracebackType

import httpx
from asn1crypto import keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from tests.support.pdfs import large_pdf, one_page_pdf

from bench.harness import free_port, markers, write_section
from sceau.anchoring.service import queue_for_anchoring
from sceau.audit.actors import Actor
from sceau.clients.provisioning import provision_system_client
from sceau.db import utcnow
from sceau.identities.models import Identity
from sceau.identities.service import key_purpose
from sceau.modes import routes
from sceau.modes.system import MODE_SYSTEM, SignatureOutcome
from sceau.pki.keystore import PrivateKey
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.engine import (
    LEVELS,
    Level,
    SignedPdf,
    SigningKey,
    TrustMaterial,
)
from sceau.signing.models import SignatureRecord
from sceau.signing.service import NewSignature, record_signature

MIB = 1024 * 1024
REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_REF = "SIG-20260101-BENCH0"
SIGN_PATH = "/api/v1/sceau/b2b/signer"
LABEL = "Atlanta Assurances – système de production"
REASON = "Attestation de garantie n° 2026-04231"
MARKER_START, MARKER_END = markers("signing")
SERVER_START_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = 300.0

# Targets from the design document.
TARGET_RATIO_TO_FLOOR = 1.5
TARGET_BLT_P95_MS = 30.0
TARGET_BT_THROUGHPUT = 60.0
TARGET_MEMORY_MULTIPLE = 6.0

VARIANTS: dict[str, str] = {
    "stock": "pyHanko as shipped (in-process)",
    "floor": "pyHanko tuned = floor (in-process)",
    "http-c1": "service HTTP, c=1",
    "http-c8": "service HTTP, c=8",
    "http-c8-w2": "service HTTP, c=8, `--workers 2`",
}

logger = logging.getLogger("bench.signing")


class BenchmarkError(RuntimeError):
    """Something the benchmark cannot measure around (a failed request…)."""


# -- plan and results ----------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """How many signatures one cell takes."""

    warmup: int
    runs: int


@dataclass(frozen=True)
class Plan:
    small_c1: Load
    small_c8: Load
    large_c1: Load
    large_c8: Load
    large_mib: int = 5
    huge_mib: int = 20

    @classmethod
    def full(cls) -> Plan:
        return cls(
            small_c1=Load(warmup=5, runs=40),
            small_c8=Load(warmup=16, runs=200),
            large_c1=Load(warmup=2, runs=10),
            large_c8=Load(warmup=8, runs=40),
        )

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            small_c1=Load(warmup=1, runs=8),
            small_c8=Load(warmup=8, runs=40),
            large_c1=Load(warmup=1, runs=2),
            large_c8=Load(warmup=8, runs=8),
        )


@dataclass(frozen=True)
class Document:
    name: str
    pdf: bytes
    c1: Load
    c8: Load


@dataclass
class Cell:
    document: str
    level: Level
    variant: str
    samples_s: list[float]
    wall_s: float
    memory: str
    failures: list[str] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_s) * 1000

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.samples_s)
        rank = max(1, math.ceil(0.95 * len(ordered)))
        return ordered[rank - 1] * 1000

    @property
    def throughput(self) -> float:
        return len(self.samples_s) / self.wall_s


@dataclass(frozen=True)
class Step:
    """One step of the request path, seen by tracemalloc and by the RSS."""

    name: str
    kept_mib: float
    traced_peak_mib: float
    rss_peak_growth_mib: float | None


@dataclass(frozen=True)
class Site:
    where: str
    mib: float


@dataclass
class HugeResult:
    pdf_bytes: int
    seconds: float
    hwm_before_kib: int
    hwm_after_kib: int
    steps: list[Step] = field(default_factory=list)
    engine_peak_mib: float = 0.0
    engine_kept_mib: float = 0.0
    sites: list[Site] = field(default_factory=list)

    @property
    def growth_bytes(self) -> int:
        return (self.hwm_after_kib - self.hwm_before_kib) * 1024

    @property
    def multiple(self) -> float:
        return self.growth_bytes / self.pdf_bytes


@dataclass(frozen=True)
class Check:
    name: str
    met: bool
    detail: str


# -- the data directory, the identity and the two in-process signers -----------


@dataclass(frozen=True)
class Fixture:
    data_dir: Path
    database_url: str
    runtime: Runtime
    client_id: str
    api_key: str
    api_key_id: str
    code_09: str
    identity: Identity

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Identity-API-Key": self.api_key, "Content-Type": "application/json"}


def make_fixture(data_dir: Path) -> Fixture:
    """A runtime with its PKI, one client, one API key, one RSA-3072 identity."""
    database_url = f"sqlite:///{(data_dir / 'sceau.db').resolve()}"
    settings = Settings(data_dir=data_dir, database_url=database_url, log_format="text")
    runtime = Runtime(settings)
    runtime.prepare()
    with runtime.db.transaction() as session:
        made = provision_system_client(
            session,
            runtime.pki,
            runtime.sealer,
            name="Atlanta Assurances",
            label=LABEL,
            body="ATLANTASYS",
            algorithm="rsa3072",
            state="production",
            by=Actor.operator(),
        )
        client, key, code_09 = made.client, made.key, made.identity.code_09
    with runtime.db.sessions() as session:
        identity = session.get(Identity, code_09)
    assert identity is not None
    return Fixture(
        data_dir=data_dir,
        database_url=database_url,
        runtime=runtime,
        client_id=client.id,
        api_key=key.secret,
        api_key_id=key.id,
        code_09=code_09,
        identity=identity,
    )


def _key_info(key: PrivateKey) -> keys.PrivateKeyInfo:
    return keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclass(frozen=True)
class StockPyHanko:
    signer: signers.SimpleSigner
    timestamper: DummyTimeStamper


def to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(
        certificate.public_bytes(serialization.Encoding.DER)
    )


def stock_pyhanko(fixture: Fixture) -> StockPyHanko:
    """pyHanko's own signer and test TSA, on the same keys as the service."""
    runtime, identity = fixture.runtime, fixture.identity
    pki = runtime.pki
    key = runtime.sealer.unseal(identity.sealed_key, key_purpose(identity.code_09))
    signing_cert = asn1_x509.Certificate.load(identity.certificate_der)
    chain = [to_asn1(pki.issuing_cert), to_asn1(pki.root_cert)]
    signer = signers.SimpleSigner(
        signing_cert=signing_cert,
        signing_key=_key_info(key),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    timestamper = DummyTimeStamper(
        tsa_cert=to_asn1(pki.tsa_cert),
        tsa_key=_key_info(pki.tsa_key),
        certs_to_embed=SimpleCertificateStore.from_certs(chain),
    )
    return StockPyHanko(signer, timestamper)


def sign_stock(
    stock: StockPyHanko, pdf: bytes, level: Level, trust: TrustMaterial
) -> bytes:
    long_term = level in ("B-LT", "B-LTA")
    metadata_ = signers.PdfSignatureMetadata(
        field_name="Signature1",
        reason=REASON,
        name=LABEL,
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=long_term,
        use_pades_lta=level == "B-LTA",
        validation_context=trust.validation_context() if long_term else None,
    )
    output = signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(pdf)),
        metadata_,
        signer=stock.signer,
        timestamper=stock.timestamper if level != "B-B" else None,
    )
    return output.getvalue()


def sign_floor(
    fixture: Fixture,
    signer: SigningKey,
    pdf: bytes,
    level: Level,
    trust: TrustMaterial,
) -> bytes:
    signed = fixture.runtime.engine.sign(
        pdf,
        key=signer,
        reason=REASON,
        signer_name=LABEL,
        level=level,
        field_name=f"Sceau-{BENCH_REF}",
        trust=trust if level in ("B-LT", "B-LTA") else None,
    )
    return signed.pdf


def check_signed(pdf: bytes, source: bytes, level: Level, where: str) -> None:
    """A cheap sanity check that a cell produced what it claims to."""
    expected = [b"%PDF-", b"/ByteRange", b"/ETSI.CAdES.detached"]
    if level in ("B-LT", "B-LTA"):
        expected.append(b"/DSS")
    if level == "B-LTA":
        expected.append(b"/ETSI.RFC3161")
    missing = [marker.decode() for marker in expected if marker not in pdf]
    if missing or len(pdf) <= len(source):
        raise BenchmarkError(f"{where}: not a {level} signature (missing {missing})")


# -- in-process measurement ----------------------------------------------------


def time_calls(call: Callable[[], bytes], load: Load) -> tuple[list[float], float]:
    for _ in range(load.warmup):
        call()
    samples: list[float] = []
    started = time.perf_counter()
    for _ in range(load.runs):
        begin = time.perf_counter()
        call()
        samples.append(time.perf_counter() - begin)
    return samples, time.perf_counter() - started


def traced_peak_mib(call: Callable[[], object]) -> float:
    """Peak of Python allocations made during one call (tracemalloc)."""
    tracemalloc.start()
    try:
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / MIB


def measure_in_process(
    document: Document, level: Level, variant: str, call: Callable[[], bytes]
) -> Cell:
    check_signed(call(), document.pdf, level, f"{variant} {document.name} {level}")
    samples, wall = time_calls(call, document.c1)
    # Measured apart from the timings: tracemalloc slows Python down severalfold.
    peak = traced_peak_mib(call)
    return Cell(
        document.name, level, variant, samples, wall, f"+{peak:.1f} MiB (traced)"
    )


# -- the server, in a subprocess -----------------------------------------------


def proc_status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise BenchmarkError(f"/proc/{pid}/status has no {name}")


def child_pids(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (uvicorn's workers and their helpers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents[int(entry.name)] = ppid
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found.extend(children)
        frontier.extend(children)
    return found


class Server:
    """``sceau serve`` on a free loopback port, stopped whatever happens."""

    def __init__(self, fixture: Fixture, workers: int, log_path: Path) -> None:
        self.fixture = fixture
        self.workers = workers
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCEAU_")}
        env.update(
            SCEAU_DATA_DIR=str(self.fixture.data_dir),
            SCEAU_DATABASE_URL=self.fixture.database_url,
            SCEAU_LOG_LEVEL="WARNING",
        )
        sceau = Path(sys.executable).with_name("sceau")
        command = (
            [str(sceau)] if sceau.exists() else [sys.executable, "-m", "sceau.cli"]
        )
        command += ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", str(self.workers)]
        with self.log_path.open("ab") as log:
            # Its own session, so the whole tree (workers too) can be stopped.
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
                raise BenchmarkError(f"server exited early, see {self.log_path}")
            try:
                response = httpx.get(
                    self.base_url + "/healthz", timeout=2.0, trust_env=False
                )
                # With several workers, wait until all of them are up.
                if response.status_code == 200 and (
                    self.workers == 1 or len(self.worker_pids()) >= self.workers
                ):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise BenchmarkError(f"server not healthy in time, see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM the server's process group (its own session), then SIGKILL."""
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

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the server, or its workers."""
        assert self.process is not None
        if self.workers == 1:
            return [self.process.pid]
        return [
            pid
            for pid in child_pids(self.process.pid)
            if "resource_tracker" not in _cmdline(pid)
        ]

    def all_pids(self) -> list[int]:
        assert self.process is not None
        return [self.process.pid, *child_pids(self.process.pid)]

    def reset_peaks(self) -> bool:
        """Reset VmHWM to the current RSS (``clear_refs`` 5, Linux ≥ 4.0)."""
        try:
            for pid in self.all_pids():
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def peak_kib(self) -> dict[int, int]:
        return {pid: proc_status_kib(pid, "VmHWM") for pid in self.all_pids()}

    def describe_peak(self) -> str:
        peaks = self.peak_kib()
        assert self.process is not None
        if self.workers == 1:
            return f"{peaks[self.process.pid] / 1024:.0f} MiB (VmHWM)"
        workers = [peaks[pid] for pid in self.worker_pids() if pid in peaks]
        total = sum(peaks.values())
        return (
            f"{max(workers) / 1024:.0f} MiB max/worker, "
            f"{total / 1024:.0f} MiB all processes (VmHWM)"
        )


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# -- HTTP load -----------------------------------------------------------------


def request_body(fixture: Fixture, pdf: bytes, level: Level) -> bytes:
    return json.dumps(
        {
            "code_09": fixture.code_09,
            "nom_signataire": LABEL,
            "motif": REASON,
            "pdf_b64": base64.b64encode(pdf).decode(),
            "niveau": level,
        },
        ensure_ascii=False,
    ).encode()


def describe_failure(response: httpx.Response) -> str:
    try:
        code = response.json()["erreur"]["code"]
    except (ValueError, KeyError, TypeError):
        code = "?"
    return f"HTTP {response.status_code} {code}"


async def _http_load(
    base_url: str,
    body: bytes,
    headers: dict[str, str],
    concurrency: int,
    load: Load,
) -> tuple[list[float], float, bytes, list[str]]:
    """Warm up, then ``load.runs`` requests with ``concurrency`` in flight.

    A failed request is not a latency sample: it is counted and described.
    """
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency
    )
    failures: list[str] = []
    async with httpx.AsyncClient(
        base_url=base_url,
        limits=limits,
        timeout=REQUEST_TIMEOUT_S,
        trust_env=False,
    ) as client:
        last: list[bytes] = [b""]

        async def run(count: int) -> list[float]:
            remaining = count
            samples: list[float] = []

            async def worker() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    begin = time.perf_counter()
                    response = await client.post(
                        SIGN_PATH, content=body, headers=headers
                    )
                    elapsed = time.perf_counter() - begin
                    if response.status_code != 200:
                        failures.append(describe_failure(response))
                        continue
                    samples.append(elapsed)
                    last[0] = response.content

            await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
            return samples

        await run(load.warmup)
        started = time.perf_counter()
        samples = await run(load.runs)
        wall = time.perf_counter() - started
    return samples, wall, last[0], failures


def measure_http(
    server: Server,
    fixture: Fixture,
    document: Document,
    level: Level,
    variant: str,
    concurrency: int,
) -> Cell:
    body = request_body(fixture, document.pdf, level)
    load = document.c1 if concurrency == 1 else document.c8
    reset = server.reset_peaks()
    samples, wall, last, failures = asyncio.run(
        _http_load(server.base_url, body, fixture.headers, concurrency, load)
    )
    where = f"{variant} {document.name} {level}"
    if not samples:
        raise BenchmarkError(f"{where}: every request failed ({failures[:3]})")
    memory = server.describe_peak() + ("" if reset else ", since start")
    signed = base64.b64decode(json.loads(last)["pdf_signe_b64"])
    check_signed(signed, document.pdf, level, where)
    return Cell(document.name, level, variant, samples, wall, memory, failures)


def measure_floor_beside_service(
    server: Server,
    fixture: Fixture,
    document: Document,
    level: Level,
    floor_call: Callable[[], bytes],
) -> tuple[Cell, Cell]:
    """The floor and the service at c=1, one signature of each in turn.

    Alternating puts both under the same background load, which on a shared
    machine matters more than anything else for their ratio. Throughput at
    c=1 is therefore signatures / time spent in that variant.
    """
    where = f"{document.name} {level}"
    body = request_body(fixture, document.pdf, level)
    load = document.c1
    check_signed(floor_call(), document.pdf, level, f"floor {where}")
    floor_s: list[float] = []
    service_s: list[float] = []
    failures: list[str] = []
    with httpx.Client(
        base_url=server.base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False
    ) as client:

        def post() -> bytes | None:
            response = client.post(SIGN_PATH, content=body, headers=fixture.headers)
            if response.status_code != 200:
                failures.append(describe_failure(response))
                return None
            return response.content

        for _ in range(load.warmup):
            floor_call()
            post()
        reset = server.reset_peaks()
        last = b""
        for _ in range(load.runs):
            begin = time.perf_counter()
            floor_call()
            floor_s.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            answer = post()
            if answer is not None:
                service_s.append(time.perf_counter() - begin)
                last = answer
        memory = server.describe_peak() + ("" if reset else ", since start")
    if not service_s:
        raise BenchmarkError(f"http-c1 {where}: every request failed ({failures[:3]})")
    signed = base64.b64decode(json.loads(last)["pdf_signe_b64"])
    check_signed(signed, document.pdf, level, f"http-c1 {where}")
    # Apart from the timings: tracemalloc slows Python down severalfold.
    peak = traced_peak_mib(floor_call)
    return (
        Cell(
            document.name,
            level,
            "floor",
            floor_s,
            sum(floor_s),
            f"+{peak:.1f} MiB (traced)",
        ),
        Cell(
            document.name,
            level,
            "http-c1",
            service_s,
            sum(service_s),
            memory,
            failures,
        ),
    )


# -- the 20 MB request ---------------------------------------------------------


def measure_huge_request(fixture: Fixture, pdf: bytes, log_path: Path) -> HugeResult:
    """One B-LT signature of ``pdf`` by a fresh server, its VmHWM before/after.

    A one-page B-LT request is made first, so that "before" already holds what
    any first signature loads (modules, the signer, the CRLs) and the growth is
    what the large document itself costs.
    """
    warm = request_body(fixture, one_page_pdf(), "B-LT")
    body = request_body(fixture, pdf, "B-LT")
    with (
        Server(fixture, workers=1, log_path=log_path) as server,
        httpx.Client(
            base_url=server.base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False
        ) as client,
    ):
        assert server.process is not None
        pid = server.process.pid
        response = client.post(SIGN_PATH, content=warm, headers=fixture.headers)
        response.raise_for_status()
        # The peak of start-up and warm-up is not the document's: start afresh.
        server.reset_peaks()
        before = proc_status_kib(pid, "VmHWM")
        begin = time.perf_counter()
        response = client.post(SIGN_PATH, content=body, headers=fixture.headers)
        seconds = time.perf_counter() - begin
        if response.status_code != 200:
            raise BenchmarkError(f"20 MB: HTTP {response.status_code}")
        after = proc_status_kib(pid, "VmHWM")
    signed = base64.b64decode(response.json()["pdf_signe_b64"])
    check_signed(signed, pdf, "B-LT", "20 MB")
    return HugeResult(len(pdf), seconds, before, after)


def _release_freed_memory() -> None:
    """Give freed heap pages back to the OS (glibc), so RSS shows new needs."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _self_rss_reset() -> int | None:
    _release_freed_memory()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return proc_status_kib(os.getpid(), "VmRSS")


@contextmanager
def _step(name: str, steps: list[Step]) -> Iterator[None]:
    # Garbage left by earlier steps must not be freed inside this one.
    gc.collect()
    rss_before = _self_rss_reset()
    tracemalloc.reset_peak()
    current_before, _ = tracemalloc.get_traced_memory()
    yield
    current, peak = tracemalloc.get_traced_memory()
    rss_growth = None
    if rss_before is not None:
        rss_growth = (proc_status_kib(os.getpid(), "VmHWM") - rss_before) / 1024
    steps.append(Step(name, (current - current_before) / MIB, peak / MIB, rss_growth))


async def _drain(chunks: AsyncIterator[bytes | str | memoryview]) -> int:
    """Consume a streamed answer as the server would send it; its length."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
    return total


def trace_request_path(fixture: Fixture, pdf: bytes, result: HugeResult) -> None:
    """Replay the route's steps in-process and see what each one costs.

    The route drops the body and its parsed text once the PDF is decoded, and
    keeps the decoded and the signed PDF to the end; the replay does the same.
    Tracing starts when the request would start: all it traces is the server's.
    """
    runtime = fixture.runtime
    sent = request_body(fixture, pdf, "B-LT")
    steps: list[Step] = []
    tracemalloc.start(1)
    try:
        with _step("receive: uvicorn chunks, Starlette `b''.join`", steps):
            chunks = [sent[i : i + 65536] for i in range(0, len(sent), 65536)]
            body = b"".join(chunks)
            del chunks
        del sent
        with _step("parse and decode: `_prepare` (JSON, strict base64)", steps):
            prepared = routes._prepare(body, "B-LT")
        del body
        source = prepared.pdf
        signer = runtime.signing_key(fixture.identity)
        trust = runtime.trust()
        with _step("sign: `runtime.engine.sign` (pyHanko, B-LT)", steps):
            signed = runtime.engine.sign(
                source,
                key=signer,
                reason=prepared.reason,
                signer_name=LABEL,
                level="B-LT",
                field_name=f"Sceau-{BENCH_REF}",
                trust=trust,
            )
        with _step("store: sha256 + `record_signature` + commit (SQLite)", steps):
            record = _store(fixture, source, signed)
        with _step("answer: streamed base64 slices in JSON (`signed_answer`)", steps):
            response = routes.signed_answer(
                SignatureOutcome(record=record, signed_pdf=signed.pdf),
                replayed_header=False,
            )
            sent_bytes = asyncio.run(_drain(response.body_iterator))
        assert sent_bytes == int(response.headers["content-length"]) > len(source)
        result.steps = steps
        del response, record, signed, prepared
        result.engine_peak_mib, result.engine_kept_mib, result.sites = _engine_sites(
            fixture, source
        )
    finally:
        tracemalloc.stop()


def _store(fixture: Fixture, source: bytes, signed: SignedPdf) -> SignatureRecord:
    """The storing half of ``sign_in_system_mode``, on its own."""
    now = utcnow()
    with fixture.runtime.db.transaction() as session:
        anchor = queue_for_anchoring(
            session, client_id=fixture.client_id, sha256=signed.sha256
        )
        return record_signature(
            session,
            NewSignature(
                ref=BENCH_REF,
                client_id=fixture.client_id,
                code_09=fixture.code_09,
                mode=MODE_SYSTEM,
                level="B-LT",
                reason=REASON,
                signer_name=LABEL,
                sha256_source=hashlib.sha256(source).hexdigest(),
                size_source=len(source),
                signed_pdf=signed.pdf,
                sha256_signed=signed.sha256,
                ref_horodatage=anchor,
                callback_url=None,
                request_id="bench-trace",
                api_key_id=fixture.api_key_id,
                duration_ms=0,
                signed_at=now,
            ),
            timedelta(days=fixture.runtime.settings.retention_days),
        )


def _engine_sites(fixture: Fixture, pdf: bytes) -> tuple[float, float, list[Site]]:
    """The engine alone: its traced peak, what it keeps, what is alive inside.

    Only the source PDF is alive when this starts. A snapshot is taken each
    time pyHanko asks the TSA for a token (the output has been written by then);
    the largest snapshot is reported by allocating line.
    """
    runtime = fixture.runtime
    signer = runtime.signing_key(fixture.identity)
    trust = runtime.trust()
    timestamper = runtime.engine.timestamper
    snapshots: list[tracemalloc.Snapshot] = []
    original = timestamper.async_request_tsa_response

    async def spying(req: object) -> object:
        snapshots.append(tracemalloc.take_snapshot())
        return await original(req)  # type: ignore[arg-type]

    timestamper.async_request_tsa_response = spying  # type: ignore[method-assign]
    try:
        gc.collect()
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        signed = sign_floor(fixture, signer, pdf, "B-LT", trust)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        del timestamper.async_request_tsa_response
    del signed
    sites: list[Site] = []
    if snapshots:
        biggest = max(snapshots, key=lambda s: sum(t.size for t in s.traces))
        filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
        sites = [
            Site(_short_path(stat.traceback[0]), stat.size / MIB)
            for stat in biggest.filter_traces(filters).statistics("lineno")
            if stat.size >= MIB
        ][:6]
    return (peak - base) / MIB, (current - base) / MIB, sites


def _short_path(frame: tracemalloc.Frame) -> str:
    path = frame.filename
    for anchor in ("site-packages/", f"{REPO_ROOT}/"):
        if anchor in path:
            path = path.split(anchor, 1)[1]
    if "/lib/python3" in path:
        path = "stdlib/" + path.split("/lib/python3", 1)[1].split("/", 1)[1]
    return f"{path}:{frame.lineno}"


def server_log_exceptions(log_path: Path) -> Counter[str]:
    """The last line of every traceback the servers logged (JSON or plain)."""
    found: Counter[str] = Counter()
    if not log_path.exists():
        return found
    plain = re.compile(r"^[\w.]+(?:Error|Exception|Exit): .*$")
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                trace = str(json.loads(line).get("exception") or "")
            except ValueError:
                continue
            if trace.strip():
                found[trace.strip().splitlines()[-1][:160]] += 1
        elif plain.match(line):
            found[line[:160]] += 1
    return found


def failures_section(cells: list[Cell], exceptions: Counter[str]) -> list[str]:
    failed = [cell for cell in cells if cell.failures]
    if not failed and not exceptions:
        return []
    lines = [
        "### Failed requests",
        "",
        "Failed requests (warm-ups included) are left out of latency and "
        "throughput. By cell:",
        "",
    ]
    for cell in failed:
        kinds = Counter(cell.failures)
        described = ", ".join(f"{n} × {kind}" for kind, n in kinds.most_common())
        label = VARIANTS[cell.variant]
        lines.append(f"- {cell.document} {cell.level}, {label}: {described}")
    if exceptions:
        lines += ["", "Exceptions in the servers' logs (last traceback line):", ""]
        lines += [f"- `{text}` × {n}" for text, n in exceptions.most_common(8)]
    return [*lines, ""]


# -- targets -------------------------------------------------------------------


def find(cells: list[Cell], document: str, level: Level, variant: str) -> Cell:
    for cell in cells:
        if (cell.document, cell.level, cell.variant) == (document, level, variant):
            return cell
    raise KeyError((document, level, variant))


def target_checks(cells: list[Cell], huge: HugeResult, small: str) -> list[Check]:
    checks: list[Check] = []
    for level in LEVELS:
        service = find(cells, small, level, "http-c1")
        floor = find(cells, small, level, "floor")
        ratio = service.p95_ms / floor.p95_ms
        checks.append(
            Check(
                f"{level} 1-page: service p95 at c=1 ≤ {TARGET_RATIO_TO_FLOOR}× "
                "floor p95",
                ratio <= TARGET_RATIO_TO_FLOOR,
                f"{service.p95_ms:.1f} ms vs {floor.p95_ms:.1f} ms = {ratio:.2f}×",
            )
        )
    blt = find(cells, small, "B-LT", "http-c1")
    checks.append(
        Check(
            f"B-LT 1-page: service p95 at c=1 < {TARGET_BLT_P95_MS:.0f} ms",
            blt.p95_ms < TARGET_BLT_P95_MS,
            f"{blt.p95_ms:.1f} ms",
        )
    )
    for variant, words in (
        ("http-c8", "default settings"),
        ("http-c8-w2", "2 workers"),
    ):
        cell = find(cells, small, "B-T", variant)
        checks.append(
            Check(
                f"B-T 1-page: throughput at c=8 ≥ {TARGET_BT_THROUGHPUT:.0f}/s "
                f"({words})",
                cell.throughput >= TARGET_BT_THROUGHPUT,
                f"{cell.throughput:.1f} signatures/s",
            )
        )
    checks.append(
        Check(
            f"20 MB B-LT: server peak memory growth < {TARGET_MEMORY_MULTIPLE:.0f}× "
            "the PDF size",
            huge.multiple < TARGET_MEMORY_MULTIPLE,
            f"{huge.growth_bytes / MIB:.0f} MiB for {huge.pdf_bytes / MIB:.1f} MiB "
            f"= {huge.multiple:.1f}×",
        )
    )
    return checks


# -- the report ----------------------------------------------------------------


def code_revision() -> str:
    """The commit measured, and whether ``src/`` differed from it (read-only)."""
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--", "src"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    paths = [word for word in changed if "/" in word]
    return f"`{head}`" + (
        f", with uncommitted changes to {', '.join(f'`{p}`' for p in paths)}"
        if paths
        else ""
    )


def machine_description(load_at_start: float, revision: str) -> list[str]:
    cpu = "unknown"
    with Path("/proc/cpuinfo").open() as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    nproc = len(os.sched_getaffinity(0))
    return [
        f"- Machine: `nproc` = {nproc}, CPU: {cpu}, "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, pyHanko {metadata.version('pyHanko')},"
        f" cryptography {metadata.version('cryptography')}, "
        f"uvicorn {metadata.version('uvicorn')}",
        f"- Code: commit {revision}",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; 1-minute load average "
        f"at start {load_at_start:.2f}, at end {os.getloadavg()[0]:.2f}",
    ]


def cells_table(cells: list[Cell], document: str) -> list[str]:
    lines = [
        "| Level | Variant | n | Failed | Median (ms) | p95 (ms) "
        "| Throughput (sig/s) | p95 / floor | Peak memory |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for level in LEVELS:
        floor = find(cells, document, level, "floor")
        for variant, label in VARIANTS.items():
            cell = find(cells, document, level, variant)
            lines.append(
                f"| {level} | {label} | {len(cell.samples_s)} | "
                f"{len(cell.failures)} | "
                f"{cell.median_ms:.1f} | {cell.p95_ms:.1f} | {cell.throughput:.1f} | "
                f"{cell.p95_ms / floor.p95_ms:.2f}× | {cell.memory} |"
            )
    return lines


def huge_section(huge: HugeResult) -> list[str]:
    size = huge.pdf_bytes / MIB
    lines = [
        f"One B-LT signature of a {size:.1f} MiB PDF "
        f"({huge.pdf_bytes:,} bytes) by a fresh `sceau serve` process (one "
        "worker). A 1-page B-LT request is made first, so that modules, the signer "
        "and the CRLs are loaded, then VmHWM is reset to the current RSS:",
        "",
        f"- VmHWM before: {huge.hwm_before_kib / 1024:.0f} MiB, after: "
        f"{huge.hwm_after_kib / 1024:.0f} MiB, growth "
        f"{huge.growth_bytes / MIB:.0f} MiB = **{huge.multiple:.1f}× the PDF size** "
        f"(target < {TARGET_MEMORY_MULTIPLE:.0f}×); the request took "
        f"{huge.seconds * 1000:.0f} ms.",
        "",
        "Where it goes: the route's steps replayed in-process on the same "
        "document with the service's own functions (`routes._parse`, "
        "`routes._decode_pdf`, `runtime.engine.sign`, `record_signature`, "
        "`routes._answer`), each object kept alive as long as the route keeps it. "
        "*Kept* is what a step adds to the live set, *transient* what it "
        "allocates and frees again, *live peak* the Python-heap high-water mark "
        "of the request so far (tracemalloc); *RSS growth* is the rise of the "
        "process's VmHWM during the step after `malloc_trim`, which also sees C "
        "allocations (SQLite, OpenSSL) that tracemalloc does not.",
        "",
        "| Step | Kept (MiB) | Transient (MiB) | Live peak (MiB) | Live peak × PDF "
        "| RSS growth (MiB) |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    live = 0.0
    for step in huge.steps:
        rss = step.rss_peak_growth_mib
        transient = step.traced_peak_mib - live - step.kept_mib
        live += step.kept_mib
        lines.append(
            f"| {step.name} | {step.kept_mib:.0f} | {max(transient, 0):.0f} | "
            f"{step.traced_peak_mib:.0f} | {step.traced_peak_mib / size:.1f}× | "
            f"{'n/a' if rss is None else f'{rss:.0f}'} |"
        )
    lines += [
        "",
        f"The engine alone (B-LT, only the source alive) peaks at "
        f"{huge.engine_peak_mib:.0f} MiB above its input "
        f"({huge.engine_peak_mib / size:.1f}× the PDF) and keeps "
        f"{huge.engine_kept_mib:.0f} MiB (the signed PDF). Blocks of 1 MiB or "
        "more alive when pyHanko asks the TSA for the signature's token "
        "(`base64.py` is the source PDF itself, decoded earlier):",
        "",
        "| Allocated at | MiB |",
        "|---|--:|",
        *[f"| `{site.where}` | {site.mib:.0f} |" for site in huge.sites],
        "",
        *findings(huge),
    ]
    return lines


def findings(huge: HugeResult) -> list[str]:
    """The reading of the table above, with this run's figures."""
    size = huge.pdf_bytes / MIB
    by_name = {step.name.split(":", 1)[0]: step for step in huge.steps}

    def times(mib: float) -> str:
        return f"{mib / size:.1f}×"

    def transient(name: str) -> float:
        names = list(by_name)
        live = sum(by_name[n].kept_mib for n in names[: names.index(name)])
        step = by_name[name]
        return max(step.traced_peak_mib - live - step.kept_mib, 0.0)

    peak = max(step.traced_peak_mib for step in huge.steps)
    store_rss = by_name["store"].rss_peak_growth_mib
    return [
        "Findings:",
        "",
        f"- The Python-heap peak is {times(peak)} the PDF. The route keeps the "
        "received body only until the PDF is decoded (the idempotency "
        "fingerprint is taken first), decodes base64 straight from the parsed "
        "text (no ASCII copy), and writes the answer's base64 directly into the "
        f"JSON bytes (transient {times(transient('answer'))} while answering).",
        "- Receiving: the chunks exist twice for a moment while they are "
        f"joined (transient {times(transient('receive'))}).",
        "- pyHanko is not where the memory goes: one output `BytesIO` the size "
        "of the document, to which the signature and DSS revisions are appended.",
        "- Storing adds nothing to the Python heap, but "
        + (
            f"{store_rss:.0f} MiB ({times(store_rss)}) of RSS: "
            if store_rss is not None
            else "RSS: "
        )
        + "`sqlite3` binds the blob with a private copy and SQLite builds the "
        "row record in its own heap.",
        "- Sending is not replayed: asyncio's selector transport copies the part "
        "of the response the socket did not take at once into its buffer, which "
        "with SQLite's copies is why the server's VmHWM growth "
        f"({huge.multiple:.1f}×) is above the replay's Python-heap peak.",
    ]


def render(
    cells: list[Cell],
    huge: HugeResult,
    checks: list[Check],
    documents: list[Document],
    command: str,
    load_at_start: float,
    revision: str,
    exceptions: Counter[str],
) -> str:
    lines = [
        MARKER_START,
        "## Signing",
        "",
        "What is compared, in one run on one machine, with one RSA-3072 identity "
        "issued by the service's PKI and its embedded TSA (RSA-3072):",
        "",
        "- **pyHanko as shipped**: `SimpleSigner` + `DummyTimeStamper` (each "
        "re-parses its private key per signature), no `bytes_reserved` (pyHanko "
        "signs twice to size the signature), in-process.",
        "- **pyHanko tuned = floor**: the service's engine alone, "
        "`runtime.engine.sign` (`KeptKeySigner` + `EmbeddedTimeStamper` + "
        "`bytes_reserved`), in-process; the B-LT trust material is fetched once.",
        "- **service HTTP**: `sceau serve` (SQLite in the data directory, default "
        "settings, `SCEAU_LOG_LEVEL=WARNING`) on 127.0.0.1, `POST "
        f"{SIGN_PATH}` with httpx keep-alive connections from the benchmark "
        "process (which shares the 2 cores with the server), c=1 and c=8; then "
        "a second server with `--workers 2` at c=8. Latency is what the client "
        "sees. The floor and the service at c=1 are measured alternately, one "
        "signature of each in turn, so both see the same background load; their "
        "throughput is signatures / time spent in that variant, and at c=8 "
        "requests / wall time.",
        "",
        "Peak memory: in-process cells give the tracemalloc peak of one "
        "signature (Python heap above the input); server cells give the server "
        "process VmHWM (whole RSS) during the cell, reset with `clear_refs` "
        "before each cell. The machine is shared and noisy: read ratios within "
        "this run, not absolute numbers.",
        "",
        *machine_description(load_at_start, revision),
        "",
        f"Produced by: `{command}`",
        "",
    ]
    for document in documents:
        c1, c8 = document.c1, document.c8
        lines += [
            f"### {document.name} PDF ({len(document.pdf):,} bytes)",
            "",
            f"In-process and c=1: {c1.runs} signatures after {c1.warmup} warm-ups; "
            f"c=8: {c8.runs} requests after {c8.warmup}.",
            "",
            *cells_table(cells, document.name),
            "",
        ]
    lines += failures_section(cells, exceptions)
    lines += [f"### {huge.pdf_bytes / MIB:.0f} MB PDF, memory", "", *huge_section(huge)]
    lines += ["", "### Targets", ""]
    lines += [
        f"- [{'x' if check.met else ' '}] {check.name}: "
        f"**{'met' if check.met else 'not met'}** ({check.detail})"
        for check in checks
    ]
    lines += ["", MARKER_END]
    return "\n".join(lines) + "\n"


def print_cells(cells: list[Cell]) -> None:
    for cell in cells:
        print(
            f"{cell.document:>7} {cell.level:<5} {cell.variant:<11} "
            f"n={len(cell.samples_s):<4} median {cell.median_ms:8.1f} ms  "
            f"p95 {cell.p95_ms:8.1f} ms  {cell.throughput:6.1f}/s  {cell.memory}",
            flush=True,
        )


# -- the run -------------------------------------------------------------------


def documents_for(plan: Plan) -> list[Document]:
    return [
        Document("1-page", one_page_pdf(), plan.small_c1, plan.small_c8),
        Document(
            f"{plan.large_mib} MB",
            large_pdf(plan.large_mib * MIB),
            plan.large_c1,
            plan.large_c8,
        ),
    ]


def run_default_server(
    fixture: Fixture, documents: list[Document], log_path: Path
) -> list[Cell]:
    """In-process cells and the one-worker server, level by level, side by side."""
    runtime = fixture.runtime
    stock = stock_pyhanko(fixture)
    signer = runtime.signing_key(fixture.identity)
    trust = runtime.trust()
    cells: list[Cell] = []
    with Server(fixture, workers=1, log_path=log_path) as server:
        for document in documents:
            for level in LEVELS:
                pdf = document.pdf
                cells.extend(
                    measure_floor_beside_service(
                        server,
                        fixture,
                        document,
                        level,
                        lambda pdf=pdf, level=level: sign_floor(
                            fixture, signer, pdf, level, trust
                        ),
                    )
                )
                cells.append(
                    measure_in_process(
                        document,
                        level,
                        "stock",
                        lambda pdf=pdf, level=level: sign_stock(
                            stock, pdf, level, trust
                        ),
                    )
                )
                cells.append(
                    measure_http(server, fixture, document, level, "http-c8", 8)
                )
                print_cells(cells[-4:])
    return cells


def run_two_workers(
    fixture: Fixture, documents: list[Document], log_path: Path
) -> list[Cell]:
    cells: list[Cell] = []
    with Server(fixture, workers=2, log_path=log_path) as server:
        for document in documents:
            for level in LEVELS:
                cells.append(
                    measure_http(server, fixture, document, level, "http-c8-w2", 8)
                )
                print_cells(cells[-1:])
    return cells


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.signing", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument(
        "--out", type=Path, default=None, help="markdown file to update"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s %(message)s"
    )
    # pyHanko warns on every B-LT signature that fetching is off; it is, on purpose.
    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    plan = Plan.quick() if args.quick else Plan.full()
    command = shlex.join(
        [
            ".venv/bin/python",
            "-m",
            "bench.signing",
            *(argv if argv is not None else sys.argv[1:]),
        ]
    )

    load_at_start = os.getloadavg()[0]
    revision = code_revision()
    data_dir = Path(tempfile.mkdtemp(prefix="sceau-bench-"))
    log_path = data_dir / "server.log"
    fixture: Fixture | None = None
    try:
        print(f"data dir {data_dir}; server log {log_path}", flush=True)
        fixture = make_fixture(data_dir)
        documents = documents_for(plan)
        cells = run_default_server(fixture, documents, log_path)
        cells += run_two_workers(fixture, documents, log_path)
        huge_pdf = large_pdf(plan.huge_mib * MIB)
        huge = measure_huge_request(fixture, huge_pdf, log_path)
        trace_request_path(fixture, huge_pdf, huge)
        exceptions = server_log_exceptions(log_path)
        for text, count in exceptions.most_common():
            print(f"server log: {count} x {text}", flush=True)
        print(
            f"20 MB B-LT: VmHWM {huge.hwm_before_kib // 1024} -> "
            f"{huge.hwm_after_kib // 1024} MiB = {huge.multiple:.1f}x",
            flush=True,
        )
        checks = target_checks(cells, huge, documents[0].name)
        section = render(
            cells,
            huge,
            checks,
            documents,
            command,
            load_at_start,
            revision,
            exceptions,
        )
        print()
        print(section)
        if args.out is not None:
            write_section(args.out, section, "signing")
            print(f"wrote {args.out}")
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        if log_path.exists():
            print(log_path.read_text()[-3000:], file=sys.stderr)
        return 1
    finally:
        if fixture is not None:
            fixture.runtime.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
