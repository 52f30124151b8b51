"""Metering, the pilot and the SLA: what the plans' bookkeeping costs a
signature, and what the console's and the invoices' reads cost.

Run from the repository root::

    .venv/bin/python -m bench.billing --out docs/benchmarks.md
    .venv/bin/python -m bench.billing --quick          # smoke run

On SQLite, level B-B (no time-stamp to blur the comparison), 1-page PDF, the
whole application in process (FastAPI's TestClient), requests interleaved
round-robin so that all see the same load:

* **production**: ``POST /signer`` for a client in production: the signature
  plus its usage row and the plan read (its step is known from
  authentication, so nothing more is read);
* **pilote**: the same for a client in pilot: its terms and daily count read
  before signing, and the count again under the client's row lock in the
  storing transaction;
* **sans comptage**: the production client with metering switched off for
  the call (no plan read, no usage row): the floor the other two are
  compared to. The SLA's in-memory request count stays in all
  three (it is a dictionary update under a lock).

Then the reads: ``sceau.sla.service.indicators`` over a month of heartbeats
(43 200 minutes) and of request minutes (43 200 per kind), which the console's
SLA page and each Prometheus refresh pay; and ``close_month`` for clients
with 40 signatures each, per invoice (the signed PDF dominates).

The section of ``--out`` between the ``bench:billing`` markers is rewritten;
the rest of the file is left alone.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from tests.billing.conftest import metered
from tests.conftest import Provisioned, provision, sign_body
from tests.support.pdfs import one_page_pdf

import sceau.modes.pipeline as pipeline
from bench.harness import out_and_quick, percentile, section, write_section
from bench.signing import code_revision, machine_description
from bench.web import make_runtime
from sceau.app import create_app
from sceau.audit.actors import Actor
from sceau.billing.invoices import close_month
from sceau.clients.models import Client
from sceau.lifecycle.service import transition
from sceau.runtime import Runtime
from sceau.sla.recorder import add_request_minutes, record_heartbeat
from sceau.sla.service import indicators

SIGN = "/api/v1/sceau/b2b/signer"
KINDS = ("production", "pilote", "sans comptage")
MONTH = "2026-11"
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
MINUTES = 30 * 24 * 60


@contextmanager
def hooks_off() -> Iterator[None]:
    """The pipeline without its usage row (a production client's step is
    known from authentication: the pipeline reads nothing more for it)."""
    saved = pipeline.record_usage
    pipeline.record_usage = lambda *args, **kwargs: None
    try:
        yield
    finally:
        pipeline.record_usage = saved


def in_pilot(runtime: Runtime, cap: int) -> Provisioned:
    client = provision(runtime, name="Bêta Assurances", body="BETASYS", state="cadrage")
    agreement = {
        "modes": ["systeme"],
        "niveau": "A",
        "matrice_autorite": False,
        "formule": "pay_as_you_go",
        "canal": "both",
        "plafond_pilote": cap,
    }
    steps: list[tuple[str, dict[str, object] | None]] = [
        ("convention", agreement),
        ("provisionne", None),
        ("pilote", None),
    ]
    for state, terms in steps:
        with runtime.db.transaction() as session:
            transition(
                session,
                client.client_id,
                state,
                actor="bench",
                settings=runtime.settings,
                agreement=terms,
                by=Actor.operator(),
            )
    return client


def signing(runtime: Runtime, rounds: int) -> dict[str, list[float]]:
    pdf = one_page_pdf()
    production = provision(runtime)
    pilot = in_pilot(runtime, cap=10 * rounds + 10)
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    with TestClient(create_app(runtime.settings, runtime)) as api:

        def post(client: Provisioned) -> int:
            body = sign_body(client, pdf)
            return api.post(SIGN, json=body, headers=client.headers).status_code

        calls: dict[str, Callable[[], int]] = {
            "production": lambda: post(production),
            "pilote": lambda: post(pilot),
        }
        for _ in range(5):  # warm-up: caches, the first key loads
            post(production), post(pilot)
        for _ in range(rounds):
            for kind in KINDS:
                started = time.perf_counter()
                if kind == "sans comptage":
                    with hooks_off():
                        status = post(production)
                else:
                    status = calls[kind]()
                samples[kind].append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise RuntimeError(f"{kind}: HTTP {status}")
    return samples


def sla_read(runtime: Runtime, client_id: str, rounds: int) -> tuple[float, float]:
    """A month of heartbeats and request minutes; indicators() timed."""
    with runtime.db.transaction() as session:
        session.get_one(Client, client_id).plan = "forfait"
        for minute in range(MINUTES):
            record_heartbeat(session, NOV_1 + timedelta(minutes=minute), healthy=True)
        rows = [
            {
                "client_id": client_id,
                "minute": NOV_1 + timedelta(minutes=minute),
                "kind": kind,
                "requests": 3,
                "server_errors": 0,
                "le_25": 3,
            }
            for minute in range(MINUTES)
            for kind in ("api", "signing")
        ]
        for start in range(0, len(rows), 2000):
            add_request_minutes(session, rows[start : start + 2000])
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        with runtime.db.sessions() as session:
            indicators(
                session, runtime.settings, client_id, MONTH, now=NOV_1 + timedelta(30)
            )
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), percentile(samples, 0.95)


def closing(runtime: Runtime, clients: int) -> tuple[float, int]:
    """close_month over ``clients`` clients of 40 signatures: ms per invoice."""
    for number in range(clients):
        client = provision(
            runtime,
            name=f"Client {number}",
            body=f"CLOSE{number:03d}",
            state="production",
        )
        metered(runtime, client, 40, NOV_1 + timedelta(days=3))
    started = time.perf_counter()
    issued = close_month(
        runtime, MONTH, now=NOV_1 + timedelta(days=31), by=Actor.operator()
    )
    return (time.perf_counter() - started) * 1000 / len(issued), len(issued)


def main(argv: list[str] | None = None) -> int:
    args = out_and_quick(__doc__.split("\n")[0], argv)
    load_at_start = os.getloadavg()[0]
    rounds = 10 if args.quick else 200
    with tempfile.TemporaryDirectory(prefix="sceau-bench-billing-") as tmp:
        runtime = make_runtime(Path(tmp))
        try:
            samples = signing(runtime, rounds)
            sla_p50, sla_p95 = sla_read(
                runtime, provision(runtime, name="SLA", body="SLASYS").client_id, 20
            )
            per_invoice, invoices = closing(runtime, 5 if args.quick else 40)
        finally:
            runtime.close()

    floor = statistics.median(samples["sans comptage"])
    lines = [
        f"{rounds} requests of each kind, interleaved; 1-page PDF, level B-B.",
        "",
        "| kind | p50 (ms) | p95 (ms) | p50 − sans comptage (ms) "
        "| p50 / sans comptage |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind in KINDS:
        p50 = statistics.median(samples[kind])
        lines.append(
            f"| {kind} | {p50:.1f} | {percentile(samples[kind], 0.95):.1f} | "
            f"{p50 - floor:+.1f} | {p50 / floor:.2f} |"
        )
    lines += [
        "",
        "| read | p50 (ms) | p95 (ms) |",
        "| --- | ---: | ---: |",
        f"| SLA indicators of a month (43 200 heartbeats, 86 400 request minutes) "
        f"| {sla_p50:.1f} | {sla_p95:.1f} |",
        "",
        f"`close_month`: {invoices} invoices of 40 signatures, "
        f"{per_invoice:.0f} ms per invoice (numbered, priced, PDF drawn and signed "
        "B-LT by Pixel Sceau).",
    ]
    print("\n".join(lines))
    if args.out is not None and not args.quick:
        command = "python -m bench.billing --out " + str(args.out)
        machine = machine_description(load_at_start, code_revision())
        text = section(
            "billing", "Metering, the pilot and the SLA reads", command, machine, lines
        )
        write_section(args.out, text, "billing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
