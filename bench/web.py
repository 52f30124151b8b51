"""Web signer benchmark: what a login costs in CPU, and how fast the pages
answer, signing excluded.

Run from the repository root::

    .venv/bin/python -m bench.web --out docs/benchmarks.md
    .venv/bin/python -m bench.web --quick          # smoke run

* **login**: ``verify_login`` (password, then TOTP, the database writes
  included) with the default Argon2id cost, on SQLite, its CPU time read with
  ``time.thread_time`` (Argon2id runs in the calling thread with p = 1), beside
  the floor: one bare Argon2id verification with the same parameters. Each
  login uses a new TOTP step, as a real one must.
* **pages**: the service started as ``sceau serve`` on loopback, one browser
  session logged in with httpx, then each page fetched in turn, round-robin,
  so that all of them see the same background load: p50 and p95 per page
  against the 50 ms target.

The section of ``--out`` between the ``bench:web`` markers is rewritten; the
rest of the file is left alone.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pyotp
from tests.support.pdfs import many_pages_pdf, one_page_pdf

from bench.harness import free_port, markers, percentile, write_section
from bench.signing import code_revision, machine_description
from sceau.acts.service import NewAct, create_act
from sceau.audit.actors import Actor
from sceau.clients.provisioning import provision_system_client
from sceau.db import utcnow
from sceau.identities.models import Identity
from sceau.modes.human import MODE_HUMAN
from sceau.modes.pipeline import SigningJob, sign_and_record
from sceau.people.login import verify_login
from sceau.people.models import Person
from sceau.people.passwords import PasswordKeeper
from sceau.people.service import create_person, finish_enrolment, start_enrolment
from sceau.runtime import Runtime
from sceau.settings import Settings

MARKER_START, MARKER_END = markers("web")
PASSWORD = "un mot de passe pour le banc d'essai"  # noqa: S105 (a test account)
LOGIN_TARGET_MS = 150.0
PAGE_TARGET_MS = 50.0
HISTORY = 30
WAITING_ACTS = 3
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass(frozen=True)
class Enrolled:
    person_id: str
    email: str
    secret: str


@dataclass(frozen=True)
class LoginCost:
    cpu_ms: list[float]
    wall_ms: list[float]
    floor_cpu_ms: list[float]


def make_runtime(data_dir: Path) -> Runtime:
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'sceau.db'}",
        log_format="text",
        log_level="WARNING",
        default_level="B-B",
    )
    runtime = Runtime(settings)
    runtime.prepare()
    return runtime


def enrol_person(
    runtime: Runtime,
    email: str,
    client_id: str | None = None,
    *,
    name: str = "Maître Banc d'Essai",
    profession: str = "notaire",
) -> Enrolled:
    """A notary (with a client account of their own unless ``client_id``),
    or another ``profession``, enrolled a day ago."""
    start = utcnow() - timedelta(days=1)
    with runtime.db.transaction() as session:
        invitation = create_person(
            session,
            runtime.pki,
            runtime.sealer,
            runtime.settings,
            name=name,
            email=email,
            profession=profession,
            client_id=client_id,
            algorithm="ecdsa-p256",
            now=start,
            by=Actor.operator(),
        )
        token = invitation.link.rsplit("/", 1)[1]
        secret = start_enrolment(session, runtime.sealer, token, now=start).secret
        finish_enrolment(
            session,
            runtime.sealer,
            runtime.settings,
            token,
            password=PASSWORD,
            first_code=pyotp.TOTP(secret).at(start),
            now=start,
        )
    return Enrolled(invitation.person.id, email, secret)


def measure_login(runtime: Runtime, who: Enrolled, runs: int) -> LoginCost:
    keeper = PasswordKeeper.of(runtime.settings)
    stored = keeper.hash(PASSWORD)
    totp = pyotp.TOTP(who.secret)
    # Each login at its own step, 30 s apart, so that none is a replay.
    moment = utcnow() + timedelta(minutes=1)
    cpu, wall, floor = [], [], []
    for _ in range(runs):
        moment += timedelta(seconds=30)
        code = totp.at(moment)
        started_cpu, started = time.thread_time(), time.perf_counter()
        verify_login(
            runtime.db,
            runtime.sealer,
            runtime.settings,
            login=who.email,
            password=PASSWORD,
            second_factor=code,
            address="192.0.2.10",
            now=moment,
        )
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)

        started_cpu = time.thread_time()
        assert keeper.matches(stored, PASSWORD)
        floor.append((time.thread_time() - started_cpu) * 1000)
    return LoginCost(cpu, wall, floor)


# -- pages ---------------------------------------------------------------------


def seed_history(runtime: Runtime, who: Enrolled, client_id: str) -> None:
    """What a busy notary's home page shows: signatures of their own (signed
    through the pipeline, as the web signer does, without spending TOTP
    steps) and acts from a client waiting for them."""
    with runtime.db.sessions() as session:
        person = session.get_one(Person, who.person_id)
        identity = session.get_one(Identity, person.code_09)
        code_09, own_client = person.code_09, person.client_id
    for number in range(HISTORY):
        sign_and_record(
            runtime,
            SigningJob(
                client_id=own_client,
                identity=identity,
                mode=MODE_HUMAN,
                reason=f"Acte n° 2026-{number:03d}, étude du banc d'essai",
                pdf=one_page_pdf(f"Acte {number}"),
                level="B-B",
                request_id=f"bench-{number}",
                started=time.perf_counter(),
                actor=Actor.person(code_09, who.person_id),
            ),
        )
    for number in range(WAITING_ACTS):
        create_act(
            runtime,
            NewAct(code_09, f"Contrat n° {number}", one_page_pdf(f"Contrat {number}")),
            client_id=client_id,
            request_id=f"bench-act-{number}",
            actor=Actor(kind="client", id=client_id, client_id=client_id),
        )


class Server:
    """``sceau serve`` on loopback in a process group of its own."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir, self.log = data_dir, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextmanager
    def running(self) -> Iterator[Server]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCEAU_")}
        env.update(
            SCEAU_DATA_DIR=str(self.data_dir),
            SCEAU_DATABASE_URL=f"sqlite:///{self.data_dir / 'sceau.db'}",
            SCEAU_LOG_LEVEL="WARNING",
            SCEAU_ANCHOR_WORKER_IN_SERVE="false",
            SCEAU_PUBLIC_BASE_URL=self.url,
        )
        command = [sys.executable, "-m", "sceau", "serve", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait()
            yield self
        finally:
            with_group = self.process.pid
            try:
                os.killpg(with_group, signal.SIGTERM)
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(with_group, signal.SIGKILL)

    def _wait(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited, see {self.log}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not start, see {self.log}")


def hidden_fields(page: str) -> dict[str, str]:
    return dict(_HIDDEN.findall(page))


def log_in(http: httpx.Client, who: Enrolled) -> None:
    """Through the login form, with a TOTP step the person has not used."""
    form = http.get("/signer/connexion")
    moment = utcnow() + timedelta(seconds=30)  # the next step: within the drift
    response = http.post(
        "/signer/connexion",
        data={
            **hidden_fields(form.text),
            "identifiant": who.email,
            "mot_de_passe": PASSWORD,
            "code": pyotp.TOTP(who.secret).at(moment),
        },
    )
    if response.status_code != 303:
        raise RuntimeError(f"login refused: {response.status_code}")


def upload(http: httpx.Client, pdf: bytes, name: str) -> str:
    """A draft through the upload form; its review page's path."""
    form = http.get("/signer/nouveau")
    response = http.post(
        "/signer/nouveau",
        data={**hidden_fields(form.text), "motif": "Banc d'essai", "niveau": "B-B"},
        files={"fichier": (name, pdf, "application/pdf")},
    )
    if response.status_code != 303:
        raise RuntimeError(f"upload refused: {response.status_code}")
    return response.headers["location"].removeprefix(str(http.base_url).rstrip("/"))


@dataclass(frozen=True)
class PageTimes:
    name: str
    path: str
    samples: list[float]


def measure_pages(server: Server, who: Enrolled, rounds: int) -> list[PageTimes]:
    with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as anonymous:
        anonymous.get("/signer/connexion")  # a visitor cookie, as a browser has
        with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as http:
            log_in(http, who)
            review = upload(http, one_page_pdf(), "acte.pdf")
            home = http.get("/signer").text
            signature = re.search(r'href="(/signer/signatures/SIG-[^".]+)"', home)
            act = re.search(r'href="(/signer/actes/ACT-[^"]+)"', home)
            pages = [
                ("login form (anonymous)", anonymous, "/signer/connexion"),
                (f"home ({HISTORY} signatures, {WAITING_ACTS} acts)", http, "/signer"),
                ("upload form", http, "/signer/nouveau"),
                ("review of a 1-page draft", http, review),
                ("page 1 as PNG (cached)", http, review + "/pages/1.png"),
            ]
            if signature:
                pages.append(("signature detail", http, signature.group(1)))
            if act:
                pages.append(("act to sign (1 page)", http, act.group(1)))
            times = [PageTimes(name, path, []) for name, _, path in pages]
            for client, _, path in ((c, n, p) for n, c, p in pages):
                check = client.get(path)
                if check.status_code != 200:
                    raise RuntimeError(f"{path} answered {check.status_code}")
            for _ in range(rounds):
                for (_, client, path), timed in zip(pages, times, strict=True):
                    started = time.perf_counter()
                    response = client.get(path)
                    timed.samples.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200

            # Every page of a 30-page draft once: drawn by PDFium, not cached.
            many = upload(http, many_pages_pdf(30), "registre.pdf")
            first = PageTimes("page as PNG, first drawing", many + "/pages/N.png", [])
            for number in range(1, 31):
                started = time.perf_counter()
                response = http.get(f"{many}/pages/{number}.png")
                first.samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            times.append(first)
    return times


def pages_table(times: list[PageTimes]) -> list[str]:
    lines = [
        "One logged-in session over HTTP/1.1 keep-alive to `sceau serve` on "
        "loopback (SQLite), pages fetched in turn; times seen by the client:",
        "",
        "| page | samples | p50 (ms) | p95 (ms) | target p95 < 50 ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for timed in times:
        p95 = percentile(timed.samples, 0.95)
        verdict = "met" if p95 < PAGE_TARGET_MS else "**not met**"
        lines.append(
            f"| {timed.name} | {len(timed.samples)} | "
            f"{statistics.median(timed.samples):.1f} | {p95:.1f} | {verdict} |"
        )
    return lines


def login_table(cost: LoginCost, settings: Settings) -> list[str]:
    def row(name: str, samples: list[float]) -> str:
        return (
            f"| {name} | {statistics.median(samples):.1f} | "
            f"{percentile(samples, 0.95):.1f} | {max(samples):.1f} |"
        )

    ratio = statistics.median(cost.cpu_ms) / statistics.median(cost.floor_cpu_ms)
    return [
        f"Argon2id m = {settings.person_argon2_memory_kib // 1024} MiB, "
        f"t = {settings.person_argon2_time_cost}, "
        f"p = {settings.person_argon2_parallelism} (the defaults: the first of "
        "OWASP's equivalent minimums, beside 19 MiB × 2 passes and others), "
        f"{len(cost.cpu_ms)} logins on SQLite:",
        "",
        "| measure (ms) | median | p95 | max |",
        "| --- | --- | --- | --- |",
        row("`verify_login`, CPU", cost.cpu_ms),
        row("`verify_login`, wall clock", cost.wall_ms),
        row("floor: one Argon2id verification, CPU", cost.floor_cpu_ms),
        "",
        f"A login costs {ratio:.2f}× the bare verification in CPU; target: under "
        f"{LOGIN_TARGET_MS:.0f} ms of CPU, "
        + (
            "**met**."
            if percentile(cost.cpu_ms, 0.95) < LOGIN_TARGET_MS
            else "**not met**."
        ),
    ]


def render(login: list[str], pages: list[str], machine: list[str], command: str) -> str:
    lines = [
        MARKER_START,
        "## Web signer: login and pages",
        "",
        f"Command: `{command}`",
        "",
        *machine,
        "",
        "### Login",
        "",
        *login,
    ]
    if pages:
        lines += ["", "### Pages (signing excluded)", "", *pages]
    lines += ["", MARKER_END]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_at_start = os.getloadavg()[0]
    logins, rounds = (5, 10) if args.quick else (40, 200)
    with tempfile.TemporaryDirectory(prefix="sceau-bench-web-") as tmp:
        data_dir = Path(tmp)
        runtime = make_runtime(data_dir)
        try:
            who = enrol_person(runtime, "banc@notaires.example.ci")
            cost = measure_login(runtime, who, logins)
            login = login_table(cost, runtime.settings)
            with runtime.db.transaction() as session:
                client = provision_system_client(
                    session,
                    runtime.pki,
                    runtime.sealer,
                    name="Atlanta Assurances",
                    label="Atlanta Assurances - Système",
                    algorithm="ecdsa-p256",
                    state="production",
                    by=Actor.operator(),
                ).client.id
            # Acts go to a person of the client that creates them.
            page_user = enrol_person(runtime, "pages@notaires.example.ci", client)
            seed_history(runtime, page_user, client)
        finally:
            runtime.close()
        with Server(data_dir, data_dir / "server.log").running() as server:
            pages = pages_table(measure_pages(server, page_user, rounds))

    print("\n".join(login))
    print("\n".join(pages))
    if args.out is not None and not args.quick:
        command = "python -m bench.web --out " + str(args.out)
        section = render(
            login, pages, machine_description(load_at_start, code_revision()), command
        )
        write_section(args.out, section, "web")
    return 0


if __name__ == "__main__":
    sys.exit(main())
