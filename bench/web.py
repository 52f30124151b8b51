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
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyotp

from bench.harness import markers, percentile, write_section
from bench.signing import code_revision, machine_description
from sceau.db import utcnow
from sceau.people.login import verify_login
from sceau.people.passwords import PasswordKeeper
from sceau.people.service import create_person, finish_enrolment, start_enrolment
from sceau.runtime import Runtime
from sceau.settings import Settings

MARKER_START, MARKER_END = markers("web")
PASSWORD = "un mot de passe pour le banc d'essai"  # noqa: S105 (a test account)
LOGIN_TARGET_MS = 150.0
PAGE_TARGET_MS = 50.0


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


def enrol_person(runtime: Runtime, email: str) -> Enrolled:
    """A notary with a client account of their own, enrolled a while ago."""
    start = utcnow() - timedelta(days=1)
    with runtime.db.transaction() as session:
        invitation = create_person(
            session,
            runtime.pki,
            runtime.sealer,
            runtime.settings,
            name="Maître Banc d'Essai",
            email=email,
            profession="notaire",
            client_id=None,
            algorithm="ecdsa-p256",
            now=start,
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
        f"p = {settings.person_argon2_parallelism} (the defaults; OWASP's minimum "
        "is 19 MiB, t = 2, p = 1), "
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
    logins = 5 if args.quick else 40
    with tempfile.TemporaryDirectory(prefix="sceau-bench-web-") as tmp:
        data_dir = Path(tmp)
        runtime = make_runtime(data_dir)
        try:
            who = enrol_person(runtime, "banc@notaires.example.ci")
            cost = measure_login(runtime, who, logins)
            login = login_table(cost, runtime.settings)
        finally:
            runtime.close()
        pages: list[str] = []

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
