"""Real parts for event tests: an HTTP receiver and an SMTP server on
loopback, a clock to walk through retries, a log of connection attempts."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from sceau.events.schedule import RetrySchedule
from sceau.events.worker import DeliveryWorker
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.webhooks.ssrf import Resolver, system_resolver

# -- the clock -----------------------------------------------------------------


class SteppedClock:
    """Starts at the real time and moves only when told."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)


def event_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "log_format": "text",
        "allow_http_loopback_callbacks": True,
        "webhook_timeout_seconds": 2.0,
        "smtp_timeout_seconds": 2.0,
        "worker_lease_seconds": 10,
        "smtp_security": "none",
    }
    values.update(overrides)
    return Settings(**values)


def make_worker(
    runtime: Runtime,
    clock: SteppedClock | None = None,
    *,
    resolver: Resolver = system_resolver,
    worker_id: str = "test-worker",
    jitter: float = 0.0,
) -> DeliveryWorker:
    schedule = RetrySchedule(runtime.settings.webhook_retry_schedule, jitter=jitter)
    return DeliveryWorker.for_runtime(
        runtime, clock=clock, schedule=schedule, resolver=resolver, worker_id=worker_id
    )


def drain(worker: DeliveryWorker, steps: int = 50) -> int:
    made = 0
    for _ in range(steps):
        step = worker.run_once()
        made += step
        if step == 0:
            break
    return made


# -- the webhook receiver ------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """A real HTTP/1.1 server on 127.0.0.1 that records what it gets.

    ``replies`` are used one per request, then ``default``; ``hold`` makes
    requests wait (after being recorded) until ``release`` is called.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.replies: list[Reply] = []
        self.default = Reply()
        self.connections = 0
        self.got_request = threading.Event()
        self.hold = False
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    reply = (
                        receiver.replies.pop(0)
                        if receiver.replies
                        else receiver.default
                    )
                receiver.got_request.set()
                if receiver.hold:
                    receiver._released.wait(30)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> Any:
                accepted = super().get_request()
                receiver.connections += 1
                return accepted

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/rappel") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def release(self) -> None:
        self.hold = False
        self._released.set()

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received]

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, f"{len(self.received)} < {count}"

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


# -- the SMTP server -----------------------------------------------------------


class Mailbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it is sent."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        mailbox = self

        class Handler:
            async def handle_DATA(
                self, server: SMTP, session: Session, envelope: Envelope
            ) -> str:
                raw = envelope.original_content or b""
                message = message_from_bytes(raw, policy=policy.default)
                assert isinstance(message, EmailMessage)
                mailbox.messages.append(message)
                mailbox.envelopes.append(
                    (str(envelope.mail_from), list(envelope.rcpt_tos))
                )
                return "250 Message accepted for delivery"

        # aiosmtpd checks it is up by connecting to the port it was given,
        # so it needs a real one: ask the system for a free port first.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


# -- connection attempts -------------------------------------------------------


class ConnectionLog:
    """Every socket connection this process attempts, seen through Python's
    audit hooks: a hostile address that appears here was dialled."""

    _active: list[ConnectionLog] = []  # noqa: RUF012
    _installed = False

    def __init__(self) -> None:
        self.addresses: list[str] = []

    @classmethod
    def _hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.connect" and cls._active:
            address = args[1]
            host = address[0] if isinstance(address, tuple) else str(address)
            for log in cls._active:
                log.addresses.append(str(host))

    @classmethod
    @contextmanager
    def watching(cls) -> Iterator[ConnectionLog]:
        if not cls._installed:
            sys.addaudithook(cls._hook)
            cls._installed = True
        log = cls()
        cls._active.append(log)
        try:
            yield log
        finally:
            cls._active.remove(log)


def resolving(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    """A resolver seam: names in ``table`` resolve there, others fail."""

    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        raise OSError(f"{host} does not resolve")

    return resolve
