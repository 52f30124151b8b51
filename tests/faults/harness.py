"""Real parts for fault tests: the service and its workers as processes of
their own, a private PostgreSQL cluster that a test may stop and start, an
RFC 3161 authority on loopback that holds a request until told, and what the
database holds after."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select, update

from sceau.anchoring.models import AnchorRecord
from sceau.audit.models import AuditAnchor
from sceau.billing.models import UsageRecord
from sceau.events.models import Delivery, Event
from sceau.idempotency.models import IdempotencyKey
from sceau.signing.models import SignatureRecord, SignedDocument
from sceau.timestamping.tsa import TimestampAuthority
from tests.support import deployment
from tests.support.servers import free_port, process_ends

SIGN_PATH = "/api/v1/sceau/b2b/signer"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


# -- the service as a process ----------------------------------------------------


class ServiceProcess(deployment.ServiceProcess):
    """``sceau serve`` (or ``sceau worker``) in a process of its own, on a port
    of its own, its output in a file beside the test's data for when a test
    fails: the deployment harness's process (which never outlives the test
    run), with ``env`` as ``service_env`` made it."""

    def __init__(
        self, env: dict[str, str], log_dir: Path, *, command: Sequence[str] = ()
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = list(command) or [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        name = f"{argv[0]}-{self.port}"
        super().__init__(name, deployment.sceau(*argv), env, log_dir / f"{name}.log")

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the service answers HTTP at all (a 503 from /healthz counts:
        it is up, its database may not be)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.running(), f"the service ended: {self.tail()}"
            try:
                httpx.get(f"{self.url}/healthz", timeout=5)
                return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.running()

    def output(self) -> str:
        return self.tail()


@contextmanager
def running(*services: ServiceProcess) -> Iterator[None]:
    try:
        yield
    finally:
        for service in services:
            service.stop()


# -- a private PostgreSQL --------------------------------------------------------


class PrivateCluster:
    """A PostgreSQL cluster of the test's own on a free loopback port, which
    it may stop and start at will (never the shared server). Made with
    ``private_cluster``, which removes it whatever happens.

    initdb and postgres refuse to run as root; as root they run as the
    ``postgres`` system user, in a directory of their own under the system's
    temporary directory (pytest's is private to root). ``disk_size`` mounts
    a tmpfs there, which needs root.
    """

    def __init__(self, *, disk_size: str | None = None) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sceau-pg-"))
        self.data = self.root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.mounted = False
        try:
            # With ``disk_size``, the cluster lives on a small file system of
            # its own, for a test that fills it.
            if disk_size is not None:
                subprocess.run(
                    [
                        "mount",
                        "-t",
                        "tmpfs",
                        "-o",
                        f"size={disk_size},mode=0700",
                        "tmpfs",
                        str(self.root),
                    ],
                    check=True,
                )
                self.mounted = True
            if os.geteuid() == 0:
                shutil.chown(self.root, "postgres", "postgres")
        except BaseException:
            self.destroy()
            raise

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(
            command, check=True, capture_output=True, cwd=self.root, timeout=120
        )

    def init(self) -> PrivateCluster:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        """A fast shutdown: sessions are ended, as in a restart for upkeep."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        """Stop the server if it runs (killed, if pg_ctl cannot), then always
        unmount and remove the directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                try:
                    self._run(
                        "pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"
                    )
                except (OSError, subprocess.SubprocessError):
                    self._kill_postmaster()
        finally:
            if self.mounted:
                subprocess.run(["umount", "--lazy", str(self.root)], check=False)
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            return  # no server, or one already gone
        # Its backends notice their postmaster's death and exit too.
        process_ends(pid)


@contextmanager
def private_cluster(*, disk_size: str | None = None) -> Iterator[PrivateCluster]:
    """A private cluster, started; stopped and removed at the end, even when
    it failed to initialise or start."""
    cluster = PrivateCluster(disk_size=disk_size)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


# -- a time-stamping authority that holds -----------------------------------------


class HoldingTsa:
    """RFC 3161 over HTTP on 127.0.0.1, answering with ``authority``; once
    ``arm``ed, the next request is taken and held, unanswered, until
    ``release``: a signature stopped half-way, at its timestamp."""

    def __init__(self, authority: TimestampAuthority) -> None:
        self.authority = authority
        self.answered = 0
        self.held = threading.Event()
        self._armed = False
        self._released = threading.Event()
        self._lock = threading.Lock()
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with tsa._lock:
                    hold = tsa._armed
                    tsa._armed = False
                if hold:
                    tsa.held.set()
                    tsa._released.wait(120)
                answer = tsa.authority.respond(body)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/timestamp-reply")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    return  # the asker is gone (killed while we held it)
                with tsa._lock:
                    tsa.answered += 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def arm(self) -> None:
        with self._lock:
            self._armed = True

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


# -- what the database holds -------------------------------------------------------


@dataclass(frozen=True)
class Holdings:
    signatures: set[str]
    signed_documents: set[str]
    usage: list[str]
    anchors: int
    events: list[str]
    deliveries: int
    idempotency: dict[str, tuple[str, str | None]]
    request_ids: dict[str, str]

    def orphans(self) -> list[str]:
        """Rows that belong to no signature, or signatures missing a part."""
        found = []
        if set(self.usage) != self.signatures or len(self.usage) != len(
            set(self.usage)
        ):
            found.append(f"usage {sorted(self.usage)} for {sorted(self.signatures)}")
        if self.signed_documents != self.signatures:
            found.append("signed documents do not match the signatures")
        if self.anchors != len(self.signatures):
            found.append(f"{self.anchors} anchors for {len(self.signatures)}")
        if sorted(self.events) != sorted(self.signatures):
            found.append(f"events {self.events} for {sorted(self.signatures)}")
        for key, (state, ref) in self.idempotency.items():
            if state == "termine" and ref not in self.signatures:
                found.append(f"key {key} done with no signature")
        return found


def holdings(engine: Engine) -> Holdings:
    with engine.connect() as connection:
        events = [
            str(subject)
            for subject, kind in connection.execute(select(Event.subject, Event.type))
            if kind == "signature.signee"
        ]
        return Holdings(
            signatures=set(connection.scalars(select(SignatureRecord.ref))),
            signed_documents=set(connection.scalars(select(SignedDocument.ref))),
            usage=list(connection.scalars(select(UsageRecord.signature_ref))),
            # The documents' anchorings; the audit trail's head has its own.
            anchors=connection.scalar(
                select(func.count())
                .select_from(AnchorRecord)
                .where(AnchorRecord.ref.not_in(select(AuditAnchor.anchor_ref)))
            )
            or 0,
            events=events,
            deliveries=connection.scalar(select(func.count()).select_from(Delivery))
            or 0,
            idempotency={
                key: (state, ref)
                for key, state, ref in connection.execute(
                    select(
                        IdempotencyKey.key,
                        IdempotencyKey.state,
                        IdempotencyKey.ref_signature,
                    )
                )
            },
            request_ids={
                str(request_id): ref
                for ref, request_id in connection.execute(
                    select(SignatureRecord.ref, SignatureRecord.request_id)
                )
            },
        )


def expire_hold(engine: Engine, key: str, lease: timedelta) -> None:
    """Date the key's hold back past ``lease``, as if it had run out: what a
    test would otherwise wait for, and a loaded machine make early or late."""
    with engine.begin() as connection:
        [locked_at] = connection.scalars(
            select(IdempotencyKey.locked_at).where(IdempotencyKey.key == key)
        )
        connection.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == key)
            .values(locked_at=locked_at - lease - timedelta(seconds=1))
        )


def ends(service: ServiceProcess) -> bool:
    return service.process is None or process_ends(service.pid)
