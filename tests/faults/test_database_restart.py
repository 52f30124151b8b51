"""PostgreSQL stopped and started again under load: while it is down every
request is answered at once with 503 ``base_indisponible`` (no 500, no hang)
and nothing of it is kept; once it is back the same service process, and the
same worker process, carry on by themselves."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, select

from sceau.events.models import Event
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.webhooks.service import add_endpoint
from sceau.webhooks.signatures import SecretBox
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
from tests.support.events import Receiver
from tests.support.pdfs import one_page_pdf

CLIENTS = 3
# Far above any answer of a healthy or a cleanly failing service: a request
# still unanswered by then is a hang.
HANG = 30.0


@dataclass(frozen=True)
class Answer:
    key: str
    phase: str
    status: int
    code: str | None
    ref: str | None
    request_id: str
    retry_after: str | None


class Load:
    """Clients signing in a loop, each request under a key of its own."""

    def __init__(self, url: str, client: Provisioned) -> None:
        self.url = url
        self.client = client
        self.body = sign_body(client, one_page_pdf(), niveau="B-B")
        self.phase = "avant"
        self.answers: list[Answer] = []
        self.hangs: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run) for _ in range(CLIENTS)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join(HANG + 10)

    def _run(self) -> None:
        with httpx.Client(timeout=HANG) as http:
            while not self._stop.is_set():
                try:
                    self._one(http)
                except Exception as exc:
                    # Anything else (a connection refused by the service, an
                    # answer that is not the API's JSON) fails the test at
                    # the end, rather than ending this thread unseen.
                    with self._lock:
                        self.errors.append(f"{self.phase}: {exc!r}")
                    self._stop.wait(0.05)

    def _one(self, http: httpx.Client) -> None:
        key = uuid.uuid4().hex
        phase = self.phase
        try:
            response = http.post(
                f"{self.url}{SIGN_PATH}",
                headers={**self.client.headers, "Idempotency-Key": key},
                json=self.body,
            )
        except httpx.TimeoutException:
            with self._lock:
                self.hangs.append(phase)
            return
        data = response.json()
        error = data.get("erreur", {})
        with self._lock:
            self.answers.append(
                Answer(
                    key,
                    phase,
                    response.status_code,
                    error.get("code"),
                    data.get("ref_signature"),
                    response.headers["X-Request-Id"],
                    response.headers.get("Retry-After"),
                )
            )
        if response.status_code != 200:
            self._stop.wait(0.05)

    def count(self, phase: str, status: int) -> int:
        with self._lock:
            return sum(
                1 for a in self.answers if a.phase == phase and a.status == status
            )

    def wait_for(
        self, phase: str, status: int, count: int, timeout: float = 90
    ) -> None:
        deadline = time.monotonic() + timeout
        while self.count(phase, status) < count:
            assert not self.hangs, f"requests hung during {self.hangs}"
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, (
                f"{phase}: {self.count(phase, status)} answers {status} of {count}"
            )
            time.sleep(0.1)


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as made:
        yield made


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_database_restarted_under_load_fails_fast_then_recovers_by_itself(
    cluster: PrivateCluster, data_dir: Path, receiver: Receiver, tmp_path: Path
) -> None:
    runtime = Runtime(Settings(data_dir=data_dir, database_url=cluster.url))
    runtime.prepare()
    client = provision(runtime)
    with runtime.db.transaction() as session:
        add_endpoint(
            session,
            SecretBox(runtime.settings.load_master_key()),
            client_id=client.client_id,
            url=receiver.url(),
            allow_http_loopback=True,
        )
    runtime.close()

    env = service_env(
        data_dir,
        cluster.url,
        {
            "SCEAU_ALLOW_HTTP_LOOPBACK_CALLBACKS": "true",
            "SCEAU_WORKER_POLL_SECONDS": "0.1",
            "SCEAU_WEBHOOK_TIMEOUT_SECONDS": "2",
            "SCEAU_SMTP_TIMEOUT_SECONDS": "2",
            "SCEAU_WORKER_LEASE_SECONDS": "10",
            "SCEAU_IDEMPOTENCY_LOCK_SECONDS": "2",
        },
    )
    service = ServiceProcess(env, tmp_path).start()
    worker = ServiceProcess(env, tmp_path, command=["worker"]).start()
    with running(service, worker):
        service.wait_ready()
        with Load(service.url, client) as load:
            load.wait_for("avant", 200, 6)

            # Down: every request is refused at once, with a clear code.
            cluster.stop()
            load.phase = "pendant"
            load.wait_for("pendant", 503, 6)
            health = httpx.get(f"{service.url}/healthz", timeout=HANG)
            assert health.status_code == 503
            assert health.json()["base_de_donnees"] == "indisponible"

            # Back: the same process serves again, without a restart.
            cluster.start()
            load.phase = "apres"
            load.wait_for("apres", 200, 6)
        assert load.hangs == []
        assert load.errors == []
        assert not any(thread.is_alive() for thread in load.threads)
        assert service.alive() and worker.alive()
        assert httpx.get(f"{service.url}/healthz", timeout=HANG).status_code == 200

        # What each client was told, and what the database holds.
        answers = load.answers
        assert {a.status for a in answers} <= {200, 503}, {
            (a.status, a.code) for a in answers
        }
        refused = [a for a in answers if a.status == 503]
        assert {a.code for a in refused} == {"base_indisponible"}
        assert all(a.retry_after is not None for a in refused)
        engine = create_engine(cluster.url)
        held = holdings(engine)
        signed = {a.ref for a in answers if a.status == 200}
        assert held.orphans() == []
        # A 503 kept nothing: no signature from that request.
        assert not {a.request_id for a in refused} & set(held.request_ids)
        # Every signature kept is one a client was told of.
        assert held.signatures == signed
        assert held.usage and len(held.usage) == len(signed)

        # The worker outlived the outage: every signature's event reaches the
        # client's endpoint, those signed after it included.
        expected = {
            event_id
            for event_id, subject in _signature_events(engine)
            if subject in held.signatures
        }
        deadline = time.monotonic() + 90
        while not expected <= set(receiver.ids()):
            assert worker.alive(), worker.output()
            assert time.monotonic() < deadline, (
                f"{len(expected - set(receiver.ids()))} events not delivered"
            )
            time.sleep(0.2)
        engine.dispose()


def _signature_events(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [
            (str(event_id), str(subject))
            for event_id, subject in connection.execute(
                select(Event.id, Event.subject).where(Event.type == "signature.signee")
            )
        ]
