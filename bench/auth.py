"""Authentication benchmark: what levels A, B and C cost on a request that signs
nothing, the status lookup ``GET /api/v1/sceau/b2b/signatures/{ref}``.

Run from the repository root::

    .venv/bin/python -m bench.auth --out docs/benchmarks.md
    .venv/bin/python -m bench.auth --quick            # smoke run, ~10x shorter
    .venv/bin/python -m bench.auth --no-postgres      # SQLite only

Everything is measured in one run, on one machine, against one server per
database: ``sceau serve --mtls`` in a subprocess, which serves the application
on a TCP port and on the Unix socket of the HAProxy mutual-TLS front it starts.
Four clients are provisioned in its data directory, each with one signed
1-page PDF whose record is then looked up:

* ``A``        level A, API key only, plain HTTP to uvicorn's TCP port;
* ``B``        level B, API key + ``X-Pixel-Signature`` (a fresh nonce per
  request, recorded in the database), same TCP path;
* ``A-front``  level A with a client certificate, through the front;
* ``C``        level C (certificate, allowlist 127.0.0.1/32, API key), through
  the front.

The load is ``SceauClient`` (the service's own Python client) over keep-alive
connections, at c=1 (the four rows taking turns request by request) and c=8
(8 threads, each with its own client, the rows taking turns block by block).
New connections (TCP, or TCP + TLS handshake) are timed apart. Then, with the
server stopped, the server-side steps are replayed in-process
(``peer_of``, ``Authenticator.authenticate``, the record lookup) so what the
front's hop costs can be told from what the certificate check costs.

The section of ``--out`` between the ``bench:auth`` markers is rewritten; the
rest of the file is left alone so other benchmarks can share it.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import metadata
from pathlib import Path
from types import FrameType, TracebackType

import httpx
from cryptography.hazmat.primitives import serialization
from sqlalchemy import create_engine, text
from tests.support.pdfs import one_page_pdf

from bench.harness import free_port, markers, percentile, write_section
from bench.signing import code_revision
from sceau.audit.actors import Actor
from sceau.auth.front import (
    CERT_HEADER,
    PEER_HEADER,
    TOKEN_HEADER,
    VERIFY_HEADER,
    Peer,
    peer_of,
)
from sceau.auth.hmac_scheme import key_id_of, sign_request
from sceau.auth.models import HmacNonce
from sceau.auth.service import RequestCredentials
from sceau.client.errors import SceauApiError, SceauTransportError
from sceau.client.sync import SceauClient
from sceau.clients.certificates import issue_pkcs12
from sceau.clients.provisioning import provision_system_client
from sceau.clients.service import create_hmac_secret, set_allowlist, set_level
from sceau.db import utcnow
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.service import get_signature

LOOKUP_PATH = "/api/v1/sceau/b2b/signatures/{ref}"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
LABEL = "Atlanta Assurances – système de production"
REASON = "Attestation de garantie n° 2026-04231"
# The bundle's passphrase protects a throw-away key in a temporary directory.
PASSPHRASE = "banc-d-essai-niveau-c"  # noqa: S105
MARKER_START, MARKER_END = markers("auth")
SERVER_START_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = 30.0
FAILURE_LIMIT = 1_000_000
DEFAULT_POSTGRES_URL = os.environ.get(
    "SCEAU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# Targets from the issue.
TARGET_B_OVERHEAD_MS = 1.0
TARGET_A_P95_MS = 5.0


class BenchmarkError(RuntimeError):
    """Something the benchmark cannot measure around."""


@dataclass(frozen=True)
class Variant:
    key: str
    level: str
    via_front: bool
    label: str

    @property
    def path(self) -> str:
        return "mTLS front (HAProxy)" if self.via_front else "TCP, plain HTTP"


VARIANTS = (
    Variant("A", "A", False, "A: API key"),
    Variant("B", "B", False, "B: API key + HMAC"),
    Variant("A-front", "A", True, "A + certificate"),
    Variant("C", "C", True, "C: certificate + allowlist + API key"),
)
BY_KEY = {variant.key: variant for variant in VARIANTS}


@dataclass(frozen=True)
class Plan:
    warmup_c1: int
    runs_c1: int
    runs_c8: int
    rounds_c8: int
    warmup_per_thread: int
    handshakes: int
    in_process: int
    concurrency: int = 8

    @classmethod
    def full(cls) -> Plan:
        return cls(
            warmup_c1=100,
            runs_c1=1600,
            runs_c8=2000,
            rounds_c8=4,
            warmup_per_thread=8,
            handshakes=30,
            in_process=600,
        )

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            warmup_c1=20,
            runs_c1=200,
            runs_c8=400,
            rounds_c8=2,
            warmup_per_thread=5,
            handshakes=10,
            in_process=200,
        )


# -- results -----------------------------------------------------------------------


@dataclass
class Cell:
    database: str
    variant: str
    concurrency: int
    samples_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.samples_s) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.samples_s, 0.95) * 1000

    @property
    def throughput(self) -> float:
        return len(self.samples_s) / self.wall_s if self.wall_s else 0.0


@dataclass
class Step:
    database: str
    name: str
    samples_s: list[float] = field(default_factory=list)

    @property
    def p50_us(self) -> float:
        return statistics.median(self.samples_s) * 1e6

    @property
    def p95_us(self) -> float:
        return percentile(self.samples_s, 0.95) * 1e6


@dataclass(frozen=True)
class Check:
    name: str
    met: bool
    detail: str


@dataclass
class DatabaseRun:
    database: str
    keep_alive: dict[tuple[str, int], Cell]
    handshakes: dict[str, Cell]
    steps: list[Step]
    refusals: list[str]


# -- the data directory: four clients, their credentials, one PDF each ---------


@dataclass(frozen=True)
class Credentials:
    variant: Variant
    client_id: str
    api_key: str
    code_09: str
    hmac_secret: str | None = None
    p12: Path | None = None
    certificate_der: bytes | None = None


@dataclass
class Fixture:
    database: str
    data_dir: Path
    database_url: str
    credentials: dict[str, Credentials]
    refs: dict[str, str] = field(default_factory=dict)

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            log_format="text",
            auth_failure_limit=FAILURE_LIMIT,
        )


def make_fixture(database: str, data_dir: Path, database_url: str) -> Fixture:
    fixture = Fixture(database, data_dir, database_url, {})
    runtime = Runtime(fixture.settings())
    try:
        runtime.prepare()
        with runtime.db.transaction() as session:
            for variant in VARIANTS:
                made = provision_system_client(
                    session,
                    runtime.pki,
                    runtime.sealer,
                    name=f"Banc d'essai {variant.key}",
                    label=LABEL,
                    algorithm="ecdsa-p256",
                    state="production",
                    by=Actor.operator(),
                )
                client_id = made.client.id
                set_level(session, client_id, variant.level, by=Actor.operator())
                hmac_secret = None
                if variant.level == "B":
                    issued = create_hmac_secret(
                        session, runtime.sealer, client_id, by=Actor.operator()
                    )
                    hmac_secret = issued.secret
                p12 = None
                der = None
                if variant.via_front:
                    set_allowlist(
                        session, client_id, ["127.0.0.1/32"], by=Actor.operator()
                    )
                    certificate, bundle = issue_pkcs12(
                        session,
                        runtime.access_ca,
                        client_id,
                        PASSPHRASE,
                        by=Actor.operator(),
                    )
                    p12 = data_dir / f"client-{variant.key}.p12"
                    p12.write_bytes(bundle)
                    der = certificate.certificate.public_bytes(
                        serialization.Encoding.DER
                    )
                fixture.credentials[variant.key] = Credentials(
                    variant=variant,
                    client_id=client_id,
                    api_key=made.key.secret,
                    code_09=made.identity.code_09,
                    hmac_secret=hmac_secret,
                    p12=p12,
                    certificate_der=der,
                )
    finally:
        runtime.close()
    return fixture


@contextmanager
def postgres_schema(admin_url: str) -> Iterator[tuple[str, str]]:
    """A fresh schema (and the server's version), dropped afterwards."""
    schema = "bench_" + secrets.token_hex(6)
    admin = create_engine(admin_url)
    try:
        with admin.begin() as connection:
            version = str(connection.execute(text("SHOW server_version")).scalar())
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        separator = "&" if "?" in admin_url else "?"
        try:
            yield f"{admin_url}{separator}options=-csearch_path%3D{schema}", version
        finally:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        admin.dispose()


# -- the server: `sceau serve --mtls`, in its own session ------------------------


class Server:
    """The application on TCP and behind its HAProxy front, stopped whatever
    happens (SIGTERM to its process group, HAProxy included, then SIGKILL)."""

    def __init__(self, fixture: Fixture, log_path: Path) -> None:
        self.fixture = fixture
        self.log_path = log_path
        self.port = free_port()
        self.front_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def tcp_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def front_url(self) -> str:
        return f"https://127.0.0.1:{self.front_port}"

    @property
    def ca_file(self) -> Path:
        return self.fixture.data_dir / "front" / "access-ca.pem"

    def __enter__(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCEAU_")}
        env.update(
            SCEAU_DATA_DIR=str(self.fixture.data_dir),
            SCEAU_DATABASE_URL=self.fixture.database_url,
            SCEAU_LOG_LEVEL="WARNING",
            SCEAU_AUTH_FAILURE_LIMIT=str(FAILURE_LIMIT),
        )
        sceau = Path(sys.executable).with_name("sceau")
        command = (
            [str(sceau)] if sceau.exists() else [sys.executable, "-m", "sceau.cli"]
        )
        command += ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--mtls", f"127.0.0.1:{self.front_port}"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_ready()
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

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"server exited early, see {self.log_path}")
            try:
                response = httpx.get(
                    self.tcp_url + "/healthz", timeout=2.0, trust_env=False
                )
                # HAProxy is started before uvicorn: once the app answers, the
                # front listens too; check it anyway.
                if response.status_code == 200:
                    socket.create_connection(
                        ("127.0.0.1", self.front_port), timeout=2.0
                    ).close()
                    return
            except (httpx.TransportError, OSError):
                pass
            time.sleep(0.2)
        raise BenchmarkError(f"server not ready in time, see {self.log_path}")

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
        # HAProxy is in the same process group; make sure nothing outlives us.
        kill_leftovers(process.pid)
        process.poll()

    def client(self, credentials: Credentials, *, sign: bool = True) -> SceauClient:
        """One client with its own connection pool (keep-alive)."""
        if not credentials.variant.via_front:
            return SceauClient(
                self.tcp_url,
                credentials.api_key,
                hmac_secret=credentials.hmac_secret if sign else None,
                retries=0,
                timeout=REQUEST_TIMEOUT_S,
            )
        assert credentials.p12 is not None
        return SceauClient(
            self.front_url,
            credentials.api_key,
            hmac_secret=credentials.hmac_secret if sign else None,
            cert=(str(credentials.p12), PASSPHRASE),
            verify=str(self.ca_file),
            retries=0,
            timeout=REQUEST_TIMEOUT_S,
        )


def kill_leftovers(group: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def server_log_tail(log_path: Path, limit: int = 3000) -> str:
    if not log_path.exists():
        return ""
    return log_path.read_text(errors="replace")[-limit:]


# -- requests ----------------------------------------------------------------------


def describe_error(error: Exception) -> str:
    if isinstance(error, SceauApiError):
        return f"HTTP {error.status} {error.code}"
    return f"{type(error).__name__}: {str(error)[:80]}"


def timed_lookup(client: SceauClient, ref: str) -> float | str:
    """Seconds for one status lookup, or what went wrong."""
    begin = time.perf_counter()
    try:
        answer = client.get_signature(ref)
    except (SceauApiError, SceauTransportError) as error:
        return describe_error(error)
    elapsed = time.perf_counter() - begin
    if answer.get("ref_signature") != ref:
        return "answer for another signature"
    return elapsed


def record(cell: Cell, result: float | str) -> None:
    if isinstance(result, str):
        cell.failures.append(result)
    else:
        cell.samples_s.append(result)


def rotated(keys: list[str], shift: int) -> list[str]:
    shift %= len(keys)
    return keys[shift:] + keys[:shift]


def sign_one_each(server: Server, fixture: Fixture, pdf: bytes) -> None:
    """One small B-B signature per client, through its own path and level."""
    for key, credentials in fixture.credentials.items():
        with server.client(credentials) as client:
            try:
                signed = client.sign_system(
                    code_09=credentials.code_09,
                    nom_signataire=LABEL,
                    motif=REASON,
                    pdf=pdf,
                    niveau="B-B",
                )
                looked_up = client.get_signature(signed.ref_signature)
            except (SceauApiError, SceauTransportError) as error:
                raise BenchmarkError(
                    f"{fixture.database} {key}: could not sign ({error})"
                ) from error
        if looked_up.get("ref_signature") != signed.ref_signature:
            raise BenchmarkError(f"{fixture.database} {key}: lookup of the wrong ref")
        fixture.refs[key] = signed.ref_signature


def check_refusals(server: Server, fixture: Fixture) -> list[str]:
    """The levels are enforced: C straight to TCP and B unsigned are refused."""
    found: list[str] = []
    cases = (
        ("C", "level C straight to the TCP port", True),
        ("B", "level B without `X-Pixel-Signature`", False),
    )
    for key, what, bypass_front in cases:
        credentials = fixture.credentials[key]
        if bypass_front:
            # The same client's API key, sent to the TCP port without a certificate.
            credentials = Credentials(
                variant=BY_KEY["A"],
                client_id=credentials.client_id,
                api_key=credentials.api_key,
                code_09=credentials.code_09,
            )
        with server.client(credentials, sign=False) as client:
            result = timed_lookup(client, fixture.refs[key])
        if not isinstance(result, str) or not result.startswith("HTTP 4"):
            raise BenchmarkError(f"{fixture.database}: {what} was not refused")
        found.append(f"{what}: {result}")
    return found


def measure_c1(server: Server, fixture: Fixture, plan: Plan) -> dict[str, Cell]:
    """Keep-alive, one request at a time, the rows taking turns."""
    keys = [variant.key for variant in VARIANTS]
    clients = {key: server.client(fixture.credentials[key]) for key in keys}
    cells = {key: Cell(fixture.database, key, 1) for key in keys}
    try:
        for index in range(plan.warmup_c1):
            for key in rotated(keys, index):
                timed_lookup(clients[key], fixture.refs[key])
        for index in range(plan.runs_c1):
            for key in rotated(keys, index):
                record(cells[key], timed_lookup(clients[key], fixture.refs[key]))
    finally:
        for client in clients.values():
            client.close()
    for cell in cells.values():
        cell.wall_s = sum(cell.samples_s)
    return cells


def run_block(
    clients: list[SceauClient], ref: str, warmup: int, runs: int, cell: Cell
) -> None:
    """``runs`` lookups per thread, after ``warmup`` each, started together."""
    barrier = threading.Barrier(len(clients) + 1, timeout=120)
    results: list[list[float | str]] = [[] for _ in clients]
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        client = clients[index]
        try:
            for _ in range(warmup):
                timed_lookup(client, ref)
            barrier.wait()
            mine = results[index]
            for _ in range(runs):
                mine.append(timed_lookup(client, ref))
        except BaseException as error:  # reported below
            errors.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=worker, args=(index,), daemon=True)
        for index in range(len(clients))
    ]
    for thread in threads:
        thread.start()
    with suppress(threading.BrokenBarrierError):
        barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    cell.wall_s += time.perf_counter() - started
    if errors:
        raise BenchmarkError(f"a load thread failed: {errors[0]!r}")
    for mine in results:
        for result in mine:
            record(cell, result)


def measure_c8(server: Server, fixture: Fixture, plan: Plan) -> dict[str, Cell]:
    """Keep-alive, ``plan.concurrency`` threads, the rows taking turns by block."""
    keys = [variant.key for variant in VARIANTS]
    clients = {
        key: [server.client(fixture.credentials[key]) for _ in range(plan.concurrency)]
        for key in keys
    }
    cells = {key: Cell(fixture.database, key, plan.concurrency) for key in keys}
    per_thread = max(1, plan.runs_c8 // plan.rounds_c8 // plan.concurrency)
    try:
        for round_ in range(plan.rounds_c8):
            for key in rotated(keys, round_):
                run_block(
                    clients[key],
                    fixture.refs[key],
                    plan.warmup_per_thread,
                    per_thread,
                    cells[key],
                )
    finally:
        for pool in clients.values():
            for client in pool:
                client.close()
    return cells


def measure_handshakes(server: Server, fixture: Fixture, plan: Plan) -> dict[str, Cell]:
    """A new client each time: TCP connect (+ TLS handshake) and one lookup.

    The client, its SSL context and its PKCS#12 bundle are made before the
    clock starts, so what is timed is the connection and the first request.
    """
    keys = [variant.key for variant in VARIANTS]
    cells = {key: Cell(fixture.database, key, 1) for key in keys}
    for index in range(plan.handshakes):
        for key in rotated(keys, index):
            with server.client(fixture.credentials[key]) as client:
                record(cells[key], timed_lookup(client, fixture.refs[key]))
    for cell in cells.values():
        cell.wall_s = sum(cell.samples_s)
    return cells


# -- server-side steps, in-process ---------------------------------------------------


# Stands for the front's token in the replayed steps (the server has its own).
REPLAY_FRONT_TOKEN = secrets.token_urlsafe(32)


def front_scope(credentials: Credentials) -> dict[str, object]:
    """An ASGI scope as the front's connection over the Unix socket brings it."""
    assert credentials.certificate_der is not None
    return {
        "type": "http",
        "client": None,
        "headers": [
            (TOKEN_HEADER, REPLAY_FRONT_TOKEN.encode()),
            (PEER_HEADER, b"127.0.0.1"),
            (VERIFY_HEADER, b"SUCCESS"),
            (CERT_HEADER, base64.b64encode(credentials.certificate_der)),
        ],
    }


def measure_steps(fixture: Fixture, plan: Plan, host: str) -> list[Step]:
    """The server's own steps on the same database, the server stopped, the
    steps taking turns call by call."""
    runtime = Runtime(fixture.settings())
    try:
        authenticator = runtime.authenticator
        creds = fixture.credentials

        def credentials_for(key: str, peer: Peer) -> RequestCredentials:
            return RequestCredentials(
                api_key=creds[key].api_key,
                signature=None,
                method="GET",
                host=host,
                path=LOOKUP_PATH.format(ref=fixture.refs[key]),
                query="",
                body_sha256=EMPTY_SHA256,
                peer=peer,
            )

        def through_front(key: str) -> RequestCredentials:
            peer = peer_of(front_scope(creds[key]), front_token=REPLAY_FRONT_TOKEN)
            if peer.certificate_fingerprint is None:
                raise BenchmarkError("peer_of did not read the certificate")
            return credentials_for(key, peer)

        direct = Peer(address="127.0.0.1")
        level_a = credentials_for("A", direct)
        level_b = credentials_for("B", direct)
        level_a_cert = through_front("A-front")
        level_c = through_front("C")
        scope_c = front_scope(creds["C"])
        secret = creds["B"].hmac_secret
        assert secret is not None

        def authenticate(
            credentials: RequestCredentials,
        ) -> Callable[[], Callable[[], object]]:
            call = partial(authenticator.authenticate, credentials)
            return lambda: call

        def authenticate_b() -> Callable[[], object]:
            # A fresh header and nonce, made before the clock starts.
            header = sign_request(
                secret,
                method="GET",
                host=host,
                path=level_b.path,
                query="",
                body=b"",
                timestamp=int(time.time()),
                nonce=secrets.token_urlsafe(18),
            )
            return partial(
                authenticator.authenticate, replace(level_b, signature=header)
            )

        def nonce_write() -> Callable[[], object]:
            # What level B writes per request, as `Authenticator` writes it.
            nonce = HmacNonce(
                key_id=key_id_of(secret),
                nonce=secrets.token_urlsafe(18),
                expires_at=utcnow() + timedelta(minutes=5),
            )

            def write() -> None:
                with runtime.db.transaction() as session:
                    session.add(nonce)
                    session.flush()

            return write

        def lookup() -> object:
            with runtime.db.sessions() as session:
                return get_signature(session, creds["A"].client_id, fixture.refs["A"])

        # Each step makes the call to time; only the call is timed.
        steps: dict[str, Callable[[], Callable[[], object]]] = {
            "front headers: `peer_of` (token, certificate parsed, fingerprint)": (
                lambda: partial(peer_of, scope_c, front_token=REPLAY_FRONT_TOKEN)
            ),
            "`authenticate`, level A (API key)": authenticate(level_a),
            "`authenticate`, level B (HMAC + nonce write)": authenticate_b,
            "of which the nonce: one write transaction (insert, commit)": nonce_write,
            "`authenticate`, level A + certificate": authenticate(level_a_cert),
            "`authenticate`, level C": authenticate(level_c),
            "record lookup: `get_signature` in its own session": lambda: lookup,
        }
        names = list(steps)
        results = {name: Step(fixture.database, name) for name in names}
        warmup = max(20, plan.in_process // 20)
        for index in range(warmup + plan.in_process):
            for name in rotated(names, index):
                call = steps[name]()
                begin = time.perf_counter()
                call()
                elapsed = time.perf_counter() - begin
                if index >= warmup:
                    results[name].samples_s.append(elapsed)
        return [results[name] for name in names]
    finally:
        runtime.close()


# -- the report --------------------------------------------------------------------


def version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def haproxy_version() -> str:
    binary = shutil.which("haproxy")
    if binary is None:
        return "?"
    first = subprocess.run(
        [binary, "-v"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    words = first[0].split() if first else []
    return words[2] if len(words) > 2 else "?"


def machine_description(
    load_at_start: float, revision: str, postgres_version: str | None
) -> list[str]:
    cpu = "unknown"
    with Path("/proc/cpuinfo").open() as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    nproc = len(os.sched_getaffinity(0))
    servers = f"HAProxy {haproxy_version()}"
    if postgres_version is not None:
        servers += f", PostgreSQL {postgres_version}"
    return [
        f"- Machine: `nproc` = {nproc}, CPU: {cpu}, "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, uvicorn {version_of('uvicorn')}, "
        f"httpx {version_of('httpx')}, SQLAlchemy {version_of('SQLAlchemy')}, "
        f"{servers}",
        f"- Code: commit {revision}",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; 1-minute load average "
        f"at start {load_at_start:.2f}, at end {os.getloadavg()[0]:.2f}",
    ]


def ms(value: float) -> str:
    return f"{value:.2f}"


def signed_ms(value: float) -> str:
    return f"{value:+.2f}"


def keep_alive_table(runs: list[DatabaseRun], plan: Plan) -> list[str]:
    lines = [
        "| Database | Level | Path | c | n | Failed | p50 (ms) | p95 (ms) "
        "| Throughput (req/s) | p50 / A | p95 / A | p95 − A (ms) |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in runs:
        for concurrency in (1, plan.concurrency):
            base = run.keep_alive[("A", concurrency)]
            for variant in VARIANTS:
                cell = run.keep_alive[(variant.key, concurrency)]
                lines.append(
                    f"| {run.database} | {variant.label} | {variant.path} "
                    f"| {concurrency} | {len(cell.samples_s)} | {len(cell.failures)} "
                    f"| {ms(cell.p50_ms)} | {ms(cell.p95_ms)} | {cell.throughput:.0f} "
                    f"| {cell.p50_ms / base.p50_ms:.2f}× "
                    f"| {cell.p95_ms / base.p95_ms:.2f}× "
                    f"| {signed_ms(cell.p95_ms - base.p95_ms)} |"
                )
    return lines


def handshake_table(runs: list[DatabaseRun]) -> list[str]:
    lines = [
        "| Database | Level | Path | n | p50 (ms) | p95 (ms) "
        "| p50 − keep-alive p50 (ms) |",
        "|---|---|---|--:|--:|--:|--:|",
    ]
    for run in runs:
        for variant in VARIANTS:
            cell = run.handshakes[variant.key]
            warm = run.keep_alive[(variant.key, 1)]
            lines.append(
                f"| {run.database} | {variant.label} | {variant.path} "
                f"| {len(cell.samples_s)} | {ms(cell.p50_ms)} | {ms(cell.p95_ms)} "
                f"| {signed_ms(cell.p50_ms - warm.p50_ms)} |"
            )
    return lines


def steps_table(runs: list[DatabaseRun]) -> list[str]:
    lines = [
        "| Database | Server-side step | n | p50 (µs) | p95 (µs) |",
        "|---|---|--:|--:|--:|",
    ]
    for run in runs:
        for step in run.steps:
            lines.append(
                f"| {run.database} | {step.name} | {len(step.samples_s)} "
                f"| {step.p50_us:.0f} | {step.p95_us:.0f} |"
            )
    return lines


def step(run: DatabaseRun, prefix: str) -> Step:
    for candidate in run.steps:
        if candidate.name.startswith(prefix):
            return candidate
    raise KeyError(prefix)


def target_checks(runs: list[DatabaseRun], plan: Plan) -> list[Check]:
    checks: list[Check] = []
    for run in runs:
        for concurrency in (1, plan.concurrency):
            a = run.keep_alive[("A", concurrency)]
            b = run.keep_alive[("B", concurrency)]
            delta = b.p95_ms - a.p95_ms
            checks.append(
                Check(
                    f"{run.database}, c={concurrency}: level B adds under "
                    f"{TARGET_B_OVERHEAD_MS:g} ms at p95",
                    delta < TARGET_B_OVERHEAD_MS,
                    f"p95(B) − p95(A) = {signed_ms(delta)} ms: "
                    f"{ms(b.p95_ms)} vs {ms(a.p95_ms)} ms",
                )
            )
        for concurrency in (1, plan.concurrency):
            a = run.keep_alive[("A", concurrency)]
            checks.append(
                Check(
                    f"{run.database}, c={concurrency}: level-A status lookup "
                    f"under {TARGET_A_P95_MS:g} ms at p95",
                    a.p95_ms < TARGET_A_P95_MS,
                    f"{ms(a.p95_ms)} ms",
                )
            )
    return checks


def reading(runs: list[DatabaseRun], plan: Plan) -> list[str]:
    """Two lines, from the figures of this run."""
    wide = plan.concurrency

    def over_a(run: DatabaseRun, key: str) -> tuple[float, float]:
        cell, base = run.keep_alive[(key, 1)], run.keep_alive[("A", 1)]
        return cell.p95_ms - base.p95_ms, cell.p50_ms - base.p50_ms

    def deltas(run: DatabaseRun, key: str) -> str:
        p95, p50 = over_a(run, key)
        return f"{signed_ms(p95)} ms at p95 ({signed_ms(p50)} at p50)"

    def server_us(run: DatabaseRun, prefix: str) -> float:
        return step(run, prefix).p50_us - step(run, "`authenticate`, level A (").p50_us

    def first_line(run: DatabaseRun) -> str:
        checks_c = (
            server_us(run, "`authenticate`, level C")
            + step(run, "front headers").p50_us
        )
        hop_ms = over_a(run, "C")[1] - checks_c / 1000
        return (
            f"{run.database}: B {deltas(run, 'B')}, its checks in-process "
            f"{server_us(run, '`authenticate`, level B'):+.0f} µs at p50 of "
            f"which {step(run, 'of which the nonce').p50_us:.0f} µs the nonce's "
            f"write transaction; C {deltas(run, 'C')}, A + certificate "
            f"{deltas(run, 'A-front')}, C's checks in-process {checks_c:+.0f} µs "
            f"at p50, so ≈ {signed_ms(hop_ms)} ms at p50 is the front's hop "
            "(TLS, HAProxy, the Unix socket)"
        )

    def second_line(run: DatabaseRun) -> str:
        a = run.keep_alive[("A", wide)]
        b = run.keep_alive[("B", wide)]
        c = run.keep_alive[("C", wide)]
        return (
            f"{run.database} A {a.throughput:.0f}/s, B {b.throughput:.0f}/s, "
            f"C {c.throughput:.0f}/s"
        )

    return [
        "- At c=1, over level A on TCP: "
        + "; ".join(first_line(run) for run in runs)
        + ".",
        f"- At c={wide} each row queues behind {wide} requests in flight on 2 "
        f"cores shared with the load generator (latency ≈ {wide} / "
        "throughput; "
        + "; ".join(second_line(run) for run in runs)
        + "), so a level's extra service time is multiplied by the queue; the "
        "5 ms and 1 ms targets are about one request and read at c=1. A new "
        "TLS connection costs several milliseconds more than a kept one: "
        "level-C integrators should keep their connections open.",
    ]


def render(
    runs: list[DatabaseRun],
    plan: Plan,
    command: str,
    load_at_start: float,
    revision: str,
    postgres_version: str | None,
    notes: list[str],
) -> str:
    per_block = max(1, plan.runs_c8 // plan.rounds_c8 // plan.concurrency)
    c8_runs = per_block * plan.rounds_c8 * plan.concurrency
    lines = [
        MARKER_START,
        "## Authentication levels",
        "",
        f"What levels A, B and C cost on a request that signs nothing: the "
        f"status lookup `GET {LOOKUP_PATH}` of an existing 1-page B-B "
        "signature (200, a small JSON record). One `sceau serve --mtls` "
        "process per database (default settings, `SCEAU_LOG_LEVEL=WARNING`, "
        "the auth failure limit raised) serves the application on its TCP "
        "port and, for the HAProxy mutual-TLS front it starts, on the front's "
        "Unix socket. Four clients, each with its own signature:",
        "",
        "- **A: API key**: level A, `X-Identity-API-Key` only, plain HTTP "
        "straight to uvicorn over TCP;",
        "- **B: API key + HMAC**: level B, plus `X-Pixel-Signature` with a "
        "fresh nonce per request (recorded in the database), same TCP path;",
        "- **A + certificate**: level A with a client certificate, through the "
        "front; the server looks up any certificate the front verified, "
        "whatever the level, so this row is the front's hop plus the "
        "certificate check (the allowlist binds level C only);",
        "- **C: certificate + allowlist + API key**: level C (allowlist "
        "127.0.0.1/32, a P-256 certificate from `issue_pkcs12`), through the "
        "front.",
        "",
        "The load generator is the service's Python client (`SceauClient`, "
        "httpx) in the benchmark process, which shares the 2 cores with the "
        "server and HAProxy; latency is what the client sees, level B's "
        "signing of each request included. Keep-alive connections: the TLS "
        "handshakes are timed apart, with a new client each time (connection, "
        "handshake and the first request). The server-side steps are then "
        "replayed in-process on the same database, the server stopped. The "
        "machine is shared and noisy: read ratios within this run.",
        "",
        *machine_description(load_at_start, revision, postgres_version),
        "",
        f"Produced by: `{command}`",
        "",
        "### Status lookup, keep-alive",
        "",
        f"c=1: {plan.runs_c1} lookups per row after {plan.warmup_c1} warm-ups, "
        "the four rows taking turns request by request. "
        f"c={plan.concurrency}: {c8_runs} lookups per row from {plan.concurrency} "
        f"threads, each with its own client, in {plan.rounds_c8} blocks per row "
        "(the rows taking turns block by block, "
        f"{plan.warmup_per_thread} warm-ups per thread before each block). "
        "Ratios and differences are to level A of the same database and "
        "concurrency.",
        "",
        *keep_alive_table(runs, plan),
        "",
        "### New connection + first request",
        "",
        f"c=1, {plan.handshakes} per row, the rows taking turns; TCP connect, "
        "and for the front a full TLS handshake (no session resumption).",
        "",
        *handshake_table(runs),
        "",
        "### Server-side steps, in-process",
        "",
        f"{plan.in_process} calls per step after warm-ups, the steps taking "
        "turns call by call, against the same database; the level-B header "
        "and nonce are made before the clock starts.",
        "",
        *steps_table(runs),
        "",
    ]
    refusals = [line for run in runs for line in run.refusals]
    if refusals:
        lines += [
            "The levels were checked before measuring: "
            + "; ".join(dict.fromkeys(refusals))
            + ".",
            "",
        ]
    failed = Counter(
        failure
        for run in runs
        for cells in (run.keep_alive.values(), run.handshakes.values())
        for cell in cells
        for failure in cell.failures
    )
    if failed:
        lines += [
            "Failed requests (left out of the latencies): "
            + ", ".join(f"{count} × {what}" for what, count in failed.most_common())
            + ".",
            "",
        ]
    lines += [f"{note}" for note in notes]
    if notes:
        lines.append("")
    lines += ["### Targets", ""]
    lines += [
        f"- [{'x' if check.met else ' '}] {check.name}: "
        f"**{'met' if check.met else 'not met'}** ({check.detail})"
        for check in target_checks(runs, plan)
    ]
    lines += ["", "### Reading", "", *reading(runs, plan), "", MARKER_END]
    return "\n".join(lines) + "\n"


def print_cells(cells: list[Cell]) -> None:
    for cell in cells:
        print(
            f"{cell.database:>10} {cell.variant:<8} c={cell.concurrency} "
            f"n={len(cell.samples_s):<5} failed={len(cell.failures):<3} "
            f"p50 {cell.p50_ms:7.2f} ms  p95 {cell.p95_ms:7.2f} ms  "
            f"{cell.throughput:6.0f}/s",
            flush=True,
        )


# -- the run -----------------------------------------------------------------------


def run_database(
    database: str,
    data_dir: Path,
    database_url: str,
    pdf: bytes,
    plan: Plan,
    log_path: Path,
) -> DatabaseRun:
    print(f"{database}: provisioning four clients", flush=True)
    fixture = make_fixture(database, data_dir, database_url)
    with Server(fixture, log_path) as server:
        sign_one_each(server, fixture, pdf)
        refusals = check_refusals(server, fixture)
        c1 = measure_c1(server, fixture, plan)
        print_cells(list(c1.values()))
        c8 = measure_c8(server, fixture, plan)
        print_cells(list(c8.values()))
        handshakes = measure_handshakes(server, fixture, plan)
        print_cells(list(handshakes.values()))
        host = f"127.0.0.1:{server.port}"
    steps = measure_steps(fixture, plan, host)
    for one in steps:
        print(
            f"{database:>10} {one.name}: p50 {one.p50_us:.0f} µs, "
            f"p95 {one.p95_us:.0f} µs",
            flush=True,
        )
    keep_alive = {(cell.variant, cell.concurrency): cell for cell in c1.values()}
    keep_alive.update({(cell.variant, cell.concurrency): cell for cell in c8.values()})
    for cell in [*keep_alive.values(), *handshakes.values()]:
        if not cell.samples_s:
            raise BenchmarkError(
                f"{database} {cell.variant} c={cell.concurrency}: every request "
                f"failed ({cell.failures[:3]})"
            )
    return DatabaseRun(database, keep_alive, handshakes, steps, refusals)


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


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so that the servers are stopped.
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="Markdown to update.")
    parser.add_argument("--quick", action="store_true", help="A short smoke run.")
    parser.add_argument(
        "--no-postgres", action="store_true", help="Measure SQLite only."
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="An administrative URL; a fresh schema is made and dropped.",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    plan = Plan.quick() if args.quick else Plan.full()
    command = shlex.join(
        [
            ".venv/bin/python",
            "-m",
            "bench.auth",
            *(argv if argv is not None else sys.argv[1:]),
        ]
    )
    # Loopback only: never through a proxy the environment may name.
    os.environ["NO_PROXY"] = ",".join(
        filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"])
    )
    load_at_start = os.getloadavg()[0]
    revision = code_revision()
    workdir = Path(tempfile.mkdtemp(prefix="sceau-bench-auth-"))
    log_path = workdir / "server.log"
    pdf = one_page_pdf()
    runs: list[DatabaseRun] = []
    notes: list[str] = []
    postgres_version: str | None = None
    started = time.monotonic()
    try:
        print(f"work dir {workdir}; server log {log_path}", flush=True)
        sqlite_dir = workdir / "sqlite"
        sqlite_url = f"sqlite:///{(sqlite_dir / 'sceau.db').resolve()}"
        runs.append(run_database("SQLite", sqlite_dir, sqlite_url, pdf, plan, log_path))
        if args.no_postgres:
            notes.append("PostgreSQL: not measured in this run (`--no-postgres`).")
        else:
            reachable, detail = probe_postgres(args.postgres_url)
            if not reachable:
                notes.append(f"PostgreSQL: not measured, not reachable ({detail}).")
                print(notes[-1], flush=True)
            else:
                postgres_version = detail
                with postgres_schema(args.postgres_url) as (url, _):
                    runs.append(
                        run_database(
                            "PostgreSQL", workdir / "postgres", url, pdf, plan, log_path
                        )
                    )
        print(f"measured in {time.monotonic() - started:.0f} s", flush=True)
        section = render(
            runs, plan, command, load_at_start, revision, postgres_version, notes
        )
        print()
        print(section)
        if args.out is not None:
            write_section(args.out, section, "auth")
            print(f"wrote {args.out}")
    except (BenchmarkError, KeyboardInterrupt) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        print(server_log_tail(log_path), file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
