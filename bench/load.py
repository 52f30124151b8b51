"""Load: two API processes and two workers behind nginx, against one process.

Run from the repository root::

    .venv/bin/python -m bench.load --out docs/benchmarks.md
    .venv/bin/python -m bench.load --quick          # 10 s, nothing written

The deployment is the one the tests drive (``tests.support.deployment``):
nginx with the configuration ``sceau deploy nginx`` makes, two ``sceau
serve`` processes with no worker inside, two ``sceau worker`` and two
``sceau anchoring run`` processes, on a fresh schema of the local
PostgreSQL, with two OpenTimestamps calendars on loopback.

An async generator of requests (``httpx.AsyncClient``, one connection per
virtual client) keeps 16 requests in flight for 60 s, each virtual client
cycling through sign, status, sign, verify: a 1-page PDF signed at B-T
(``POST /api/v1/sceau/b2b/signer``), the status of a signature made earlier
(``GET /api/v1/sceau/b2b/signatures/{ref}``) and the public verification of
a signed PDF (``POST /api/v1/sceau/verifier``). A failed request is any
answer but the expected 200 (and, for a verification, ``TOTAL-PASSED``), or
no answer: the run fails if there is one.

Then the same mix, half as long, straight to the first API process (no
nginx, the other processes idle): the single-process figure of the same run.

Every request comes from 127.0.0.1, so the public verification's limit per
address (``SCEAU_VERIFICATION_RATE_PER_MINUTE``) is raised for the run.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from tests.support.deployment import Deployment, deployment
from tests.support.ots_calendar import (
    LoopbackCalendar,
    running_calendar,
    running_chain,
)
from tests.support.pdfs import one_page_pdf
from tests.support.postgres import postgres_schema

from bench.harness import out_and_quick, percentile, section, write_section
from bench.signing import code_revision, machine_description
from sceau.audit.actors import Actor
from sceau.clients.provisioning import provision_system_client
from sceau.runtime import Runtime
from sceau.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get(
    "SCEAU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CONCURRENCY = 16
SECONDS = 60.0
QUICK_SECONDS = 10.0
WARMUP_SIGNATURES = 32
SIGN = "/api/v1/sceau/b2b/signer"
STATUS = "/api/v1/sceau/b2b/signatures/{ref}"
VERIFY = "/api/v1/sceau/verifier"
KINDS = ("signature", "status", "verification")
CYCLE = ("signature", "status", "signature", "verification")
LABEL = "Atlanta Assurances – système de production"
REQUEST_TIMEOUT_S = 60.0
# How long a batch's root may take to reach the second calendar.
ANCHORING_SETTLE_S = 30.0


@dataclass
class Client:
    api_key: str
    code_09: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Identity-API-Key": self.api_key}


@dataclass
class Tally:
    """What one target got: latencies per kind, failures described."""

    samples: dict[str, list[float]] = field(
        default_factory=lambda: {kind: [] for kind in KINDS}
    )
    failures: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0


@dataclass
class Pools:
    """Signatures made so far: what status and verification calls ask about."""

    refs: list[str] = field(default_factory=list)
    signed_b64: list[str] = field(default_factory=list)


def sign_request(client: Client, pdf_b64: str, n: int) -> bytes:
    return json.dumps(
        {
            "code_09": client.code_09,
            "nom_signataire": LABEL,
            "motif": f"Attestation de garantie n° 2026-{n:05d}",
            "pdf_b64": pdf_b64,
            "niveau": "B-T",
        },
        ensure_ascii=False,
    ).encode()


async def call(
    http: httpx.AsyncClient,
    kind: str,
    client: Client,
    pools: Pools,
    pdf_b64: str,
    n: int,
) -> str | None:
    """One request of ``kind``; None when it succeeded, else what went wrong."""
    try:
        if kind == "signature":
            response = await http.post(
                SIGN,
                content=sign_request(client, pdf_b64, n),
                headers={**client.headers, "Content-Type": "application/json"},
            )
            if response.status_code == 200:
                answer = response.json()
                pools.refs.append(answer["ref_signature"])
                if len(pools.signed_b64) < 64:
                    pools.signed_b64.append(answer["pdf_signe_b64"])
        elif kind == "status":
            ref = pools.refs[n % len(pools.refs)]
            response = await http.get(STATUS.format(ref=ref), headers=client.headers)
        else:
            signed = pools.signed_b64[n % len(pools.signed_b64)]
            response = await http.post(VERIFY, json={"pdf_b64": signed})
            if response.status_code == 200:
                verdict = response.json()["verdict"]["indication"]
                if verdict != "TOTAL-PASSED":
                    return f"verification {verdict}"
    except httpx.HTTPError as exc:
        return f"{kind}: {type(exc).__name__}"
    except (ValueError, KeyError, TypeError):
        # A 200 whose body is not the answer the API documents.
        return f"{kind}: HTTP 200, unreadable answer"
    if response.status_code != 200:
        return f"{kind}: HTTP {response.status_code} {_code(response)}"
    return None


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["erreur"]["code"])
    except (ValueError, KeyError, TypeError):
        return "?"


async def drive(base_url: str, client: Client, pools: Pools, seconds: float) -> Tally:
    """``CONCURRENCY`` virtual clients, each on its own connection, for
    ``seconds``; a request started before the end is waited for and counted."""
    tally = Tally()
    pdf_b64 = base64.b64encode(one_page_pdf()).decode()
    counter = iter(range(10**9))

    async def virtual_client(offset: int) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=base_url,
            limits=limits,
            timeout=REQUEST_TIMEOUT_S,
            trust_env=False,
        ) as http:
            step = offset
            while time.perf_counter() < deadline:
                kind = CYCLE[step % len(CYCLE)]
                step += 1
                begin = time.perf_counter()
                failure = await call(http, kind, client, pools, pdf_b64, next(counter))
                elapsed = time.perf_counter() - begin
                if failure is None:
                    tally.samples[kind].append(elapsed)
                else:
                    tally.failures[failure] += 1

    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(virtual_client(n) for n in range(CONCURRENCY)))
    tally.wall = time.perf_counter() - started
    return tally


async def warm_up(base_urls: list[str], client: Client, pools: Pools) -> None:
    """Signatures through each address, so that every process has parsed the
    key and the pools hold something to ask about."""
    pdf_b64 = base64.b64encode(one_page_pdf()).decode()
    for base_url in base_urls:
        async with httpx.AsyncClient(
            base_url=base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False
        ) as http:
            results = await asyncio.gather(
                *(
                    call(http, "signature", client, pools, pdf_b64, n)
                    for n in range(WARMUP_SIGNATURES // len(base_urls))
                )
            )
            for kind in ("status", "verification"):
                results.append(await call(http, kind, client, pools, pdf_b64, 0))
        failed = [r for r in results if r is not None]
        if failed:
            raise SystemExit(f"warm-up failed on {base_url}: {failed[:3]}")


def provision(made: Deployment) -> Client:
    runtime = Runtime(
        Settings(
            data_dir=made.data_dir,
            database_url=made.database_url,
            public_base_url=made.url,
        )
    )
    try:
        with runtime.db.transaction() as session:
            created = provision_system_client(
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
            return Client(created.key.secret, created.identity.code_09)
    finally:
        runtime.close()


def upstream_shares(made: Deployment, since: int) -> Counter[str]:
    """How nginx shared the requests of the run between the processes."""
    names = {urlsplit(u).netloc: f"api-{n}" for n, u in enumerate(made.api_urls, 1)}
    lines = made.nginx_access_log.read_text().splitlines()[since:]
    return Counter(
        names.get(line.rsplit("upstream=", 1)[1].split()[0], "other")
        for line in lines
        if "upstream=" in line
    )


def table(rows: list[tuple[str, Tally]]) -> list[str]:
    lines = [
        "| Target | Kind | n | Failed | p50 (ms) | p95 (ms) | p99 (ms) | "
        "Throughput (req/s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for target, tally in rows:
        for kind in (*KINDS, "all"):
            samples = (
                [s for k in KINDS for s in tally.samples[k]]
                if kind == "all"
                else tally.samples[kind]
            )
            failed = (
                sum(tally.failures.values())
                if kind == "all"
                else sum(v for k, v in tally.failures.items() if k.startswith(kind))
            )
            lines.append(
                f"| {target} | {kind} | {len(samples)} | {failed} | "
                f"{_ms(samples, 0.50)} | {_ms(samples, 0.95)} | "
                f"{_ms(samples, 0.99)} | {len(samples) / tally.wall:.1f} |"
            )
    return lines


def _ratio(balanced: Tally, single: Tally) -> str:
    def rate(tally: Tally) -> float:
        return sum(len(v) for v in tally.samples.values()) / tally.wall

    return f"{rate(balanced) / rate(single):.2f}×"


def _ms(samples: list[float], fraction: float) -> str:
    return f"{percentile(samples, fraction) * 1000:.1f}" if samples else "–"


def measure(seconds: float) -> tuple[list[str], int]:
    with (
        tempfile.TemporaryDirectory(prefix="sceau-bench-load-") as tmp,
        postgres_schema(POSTGRES_ADMIN_URL) as database_url,
        running_chain() as chain,
        running_calendar(chain) as first,
        running_calendar(chain) as second,
    ):
        env = {
            "SCEAU_VERIFICATION_RATE_PER_MINUTE": "1000000",
            "SCEAU_ANCHOR_CALENDARS": f"{first.url},{second.url}",
            "SCEAU_ANCHOR_HEADER_SOURCE": f"esplora:{chain.url}",
        }
        with deployment(
            Path(tmp) / "run", Path(tmp) / "var", database_url, env=env
        ) as made:
            client = provision(made)
            pools = Pools()
            asyncio.run(warm_up([made.url, *made.api_urls], client, pools))

            since = len(made.nginx_access_log.read_text().splitlines())
            load_before = os.getloadavg()[0]
            balanced = asyncio.run(drive(made.url, client, pools, seconds))
            load_balanced = os.getloadavg()[0]
            shares = upstream_shares(made, since)
            single = asyncio.run(drive(made.api_urls[0], client, pools, seconds / 2))
            load_single = os.getloadavg()[0]
            made.check_alive()
            received = _roots_received(first, second)

    rows = [
        ("nginx → 2 API processes", balanced),
        ("1 API process, direct", single),
    ]
    failed = sum(sum(t.failures.values()) for _, t in rows)
    anchoring_line, anchoring_ok = _anchoring(received)
    if not anchoring_ok:
        failed += 1
    lines = [
        f"{CONCURRENCY} requests in flight, {seconds:.0f} s through nginx, then "
        f"{seconds / 2:.0f} s straight to one API process; each virtual client "
        f"cycles {', '.join(CYCLE)} (1-page PDF at B-T; status of a signature "
        "made earlier; public verification of a signed PDF).",
        "",
        *table(rows),
        "",
        f"- Failed requests: **{failed}**"
        + (
            ""
            if not failed
            else " — "
            + "; ".join(
                f"{what} ×{n}" for _, t in rows for what, n in t.failures.most_common(5)
            )
        ),
        f"- Throughput through nginx over one process: {_ratio(balanced, single)}"
        "; the two API processes share the machine's cores with nginx, the "
        "workers, PostgreSQL and the load generator, so a second process adds "
        "at most what an idle core gives.",
        "- nginx shared the run's requests: "
        + ", ".join(f"{name} {n}" for name, n in sorted(shares.items())),
        f"- 1-minute load average: {load_before:.2f} before, {load_balanced:.2f} "
        f"after the nginx run, {load_single:.2f} after the single-process run "
        "(the machine is shared: other work may run beside the benchmark).",
        anchoring_line,
    ]
    return lines, failed


def _roots_received(*calendars: LoopbackCalendar) -> list[list[bytes]]:
    """What each calendar received, once a batch submitted to one has had
    time to reach the other too (a pass submits to each in turn)."""
    deadline = time.monotonic() + ANCHORING_SETTLE_S
    while True:
        received = [list(c.digests_received) for c in calendars]
        if len({frozenset(r) for r in received}) == 1:
            return received
        if time.monotonic() > deadline:
            return received
        time.sleep(0.2)


def _anchoring(received: list[list[bytes]]) -> tuple[str, bool]:
    """What the calendars received meanwhile: each batch's root once at each,
    whichever of the two anchoring processes took the batch."""
    first, second = received
    duplicates = sum(len(r) - len(set(r)) for r in received)
    same = set(first) == set(second)
    counts = f"{len(first)} and {len(second)}"
    if same and not duplicates:
        return (
            f"- Meanwhile each of the two calendars received {len(first)} batch "
            "roots from the two anchoring processes (one batch per pass of "
            "whichever process took it): the same roots at both, none twice.",
            True,
        )
    return (
        f"- Anchoring FAILED: the calendars received {counts} batch roots, "
        f"{'the same set' if same else 'different sets'}, "
        f"{duplicates} submitted twice.",
        False,
    )


def main(argv: list[str] | None = None) -> int:
    args = out_and_quick(__doc__.split("\n")[0], argv)
    load_at_start = os.getloadavg()[0]
    lines, failed = measure(QUICK_SECONDS if args.quick else SECONDS)
    print("\n".join(lines))
    if args.out is not None and not args.quick:
        command = "python -m bench.load --out " + str(args.out)
        machine = machine_description(load_at_start, code_revision())
        text = section(
            "load",
            "Load: two API processes and two workers behind nginx",
            command,
            machine,
            lines,
        )
        write_section(args.out, text, "load")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
