"""Delegated signing benchmark: what signing in a person's name, inside her
delegation's envelope, costs beside signing in the system's name; and what an
authority matrix adds to a request.

Run from the repository root::

    .venv/bin/python -m bench.delegation --out docs/benchmarks.md
    .venv/bin/python -m bench.delegation --quick          # smoke run

One client on SQLite, with a system identity (RSA-3072) and a managing
director (ECDSA P-256) who signed a delegation (the sheet's example envelope,
no daily limit). Level B-B, so that no time-stamp blurs the comparison. The
requests go through the whole application in process (FastAPI's TestClient:
authentication, parsing, the mode, the signature, the transaction), in turn,
round-robin so that all see the same load. A second client, alike, has
published an authority matrix, read and checked on every one of its
requests:

* **système**: ``POST /signer`` with the system identity;
* **déléguée**: the same with the director's code, a kind and an amount: the
  envelope's check, the delegation's row lock and its daily count on top;
* **système + matrice** and **déléguée + matrice**: the same for the client
  with a matrix.

The director's key is ECDSA and the system's RSA, so the two modes' raw
signing costs differ too: the engine's own time for each key is measured
alongside, and the table reports each mode's time above its engine.

The section of ``--out`` between the ``bench:delegation`` markers is
rewritten; the rest of the file is left alone.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyotp
from fastapi.testclient import TestClient
from tests.conftest import Provisioned, provision, sign_body
from tests.people.conftest import Registered
from tests.support.delegations import (
    OFFICER_NAME,
    add_catalogue,
    delegated_sign_body,
    envelope_body,
)
from tests.support.pdfs import one_page_pdf

from bench.harness import out_and_quick, percentile, section, write_section
from bench.signing import code_revision, machine_description
from bench.web import enrol_person, make_runtime
from sceau.app import create_app
from sceau.audit.actors import Actor
from sceau.authority.service import publish
from sceau.db import utcnow
from sceau.delegations.models import Delegation
from sceau.delegations.service import delegation_document, sign_delegation
from sceau.identities.models import Identity
from sceau.people.models import Person
from sceau.runtime import Runtime

SIGN = "/api/v1/sceau/b2b/signer"
# A Tuesday at 10:00 in Abidjan, inside the envelope.
INSIDE = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
Call = Callable[[], int]
MODES = ("système", "déléguée", "système + matrice", "déléguée + matrice")


def prepare(
    runtime: Runtime, api: TestClient, name: str, body: str, email: str
) -> tuple[Provisioned, str]:
    """A client, and its director's code once her delegation is signed."""
    client = provision(runtime, name=name, label=f"{name} – production", body=body)
    add_catalogue(
        runtime,
        client,
        {"police_assurance": "polices d'assurance", "attestation": "attestations"},
    )
    director = enrol_person(
        runtime,
        email,
        client.client_id,
        name=OFFICER_NAME,
        profession="dirigeant",
    )
    with runtime.db.sessions() as session:
        code_09 = session.get_one(Person, director.person_id).code_09
    drafted = api.post(
        "/api/v1/sceau/b2b/delegations",
        json=envelope_body(code_09, quota_journalier=None),
        headers=client.headers,
    )
    drafted.raise_for_status()
    ref = drafted.json()["ref_delegation"]
    with runtime.db.sessions() as session:
        shown = delegation_document(session, session.get_one(Delegation, ref))
    later = utcnow() + timedelta(minutes=1)
    sign_delegation(
        runtime,
        person_id=director.person_id,
        ref=ref,
        totp_code=pyotp.TOTP(director.secret).at(later),
        shown_sha256=hashlib.sha256(shown).hexdigest(),
        request_id="bench",
        now=later,
    )
    return client, code_09


def publish_matrix(runtime: Runtime, client: Provisioned, director_code: str) -> None:
    with runtime.db.transaction() as session:
        publish(
            session,
            client.client_id,
            rules=[
                {"type_acte": "attestation", "mode": "systeme"},
                {
                    "type_acte": "police_assurance",
                    "montant_max": 5_000_000,
                    "mode": "deleguee",
                    "code_09": director_code,
                },
                {
                    "type_acte": "police_assurance",
                    "montant_min": 5_000_000,
                    "mode": "humaine",
                    "code_09": director_code,
                },
            ],
            review_due=date.today() + timedelta(days=300),
            overdue_policy="avertir",
            author="operateur",
            now=utcnow(),
            by=Actor.operator(),
        )


def engine_ms(runtime: Runtime, code_09: str, rounds: int) -> float:
    """The median time of the engine alone with this identity's key."""
    with runtime.db.sessions() as session:
        identity = session.get_one(Identity, code_09)
    key = runtime.signing_key(identity)
    pdf = one_page_pdf()
    samples = []
    for number in range(rounds):
        started = time.perf_counter()
        runtime.engine.sign(
            pdf,
            key=key,
            reason="banc",
            signer_name=identity.label,
            level="B-B",
            field_name=f"Banc-{number}",
            trust=None,
        )
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(
    api: TestClient, calls: dict[str, Callable[[], int]], rounds: int
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            status = call()
            samples[name].append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"{name}: HTTP {status}")
    return samples


def table(
    samples: dict[str, list[float]], engine: dict[str, float], rounds: int
) -> list[str]:
    system_p50 = statistics.median(samples["système"])
    lines = [
        f"{rounds} requests of each kind, interleaved; 1-page PDF, level B-B.",
        "",
        "| mode | p50 (ms) | p95 (ms) | engine alone, p50 (ms) | above the engine, "
        "p50 (ms) | p50 / système |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in MODES:
        data = samples[name]
        key = "déléguée" if name.startswith("déléguée") else "système"
        p50 = statistics.median(data)
        lines.append(
            f"| {name} | {p50:.1f} | {percentile(data, 0.95):.1f} | "
            f"{engine[key]:.1f} | {p50 - engine[key]:.1f} | {p50 / system_p50:.2f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = out_and_quick(__doc__.split("\n")[0], argv)
    load_at_start = os.getloadavg()[0]
    rounds = 10 if args.quick else 200
    with tempfile.TemporaryDirectory(prefix="sceau-bench-delegation-") as tmp:
        runtime = make_runtime(Path(tmp))
        try:
            with TestClient(create_app(runtime.settings, runtime)) as api:
                plain, plain_director = prepare(
                    runtime, api, "Atlanta Assurances", "ATLANTASYS", "a@atlanta.ci"
                )
                ruled, ruled_director = prepare(
                    runtime, api, "Bêta Assurances", "BETASYS", "b@beta.ci"
                )
                publish_matrix(runtime, ruled, ruled_director)
                api.app.state.api_clock = lambda: INSIDE  # type: ignore[attr-defined]
                pdf = one_page_pdf()

                def post(client: Provisioned, body: dict[str, object]) -> Call:
                    return lambda: (
                        api.post(SIGN, json=body, headers=client.headers).status_code
                    )

                def delegated(code_09: str) -> dict[str, object]:
                    officer = Registered(
                        person_id="", code_09=code_09, email="", token=""
                    )
                    return delegated_sign_body(officer, pdf, montant=1_250_000)

                typed = sign_body(ruled, pdf, type_acte="attestation")
                calls = {
                    "système": post(plain, sign_body(plain, pdf)),
                    "déléguée": post(plain, delegated(plain_director)),
                    "système + matrice": post(ruled, typed),
                    "déléguée + matrice": post(ruled, delegated(ruled_director)),
                }
                samples = measure(api, calls, rounds)
                engine = {
                    "système": engine_ms(runtime, plain.code_09, rounds),
                    "déléguée": engine_ms(runtime, plain_director, rounds),
                }
        finally:
            runtime.close()

    lines = table(samples, engine, rounds)
    print("\n".join(lines))
    if args.out is not None and not args.quick:
        command = "python -m bench.delegation --out " + str(args.out)
        machine = machine_description(load_at_start, code_revision())
        reading = [
            "",
            "Read the column « above the engine »: what a mode adds to the "
            "signature itself (the RSA-3072 system key and the ECDSA director's "
            "key do not cost the same to the engine).",
        ]
        text = section(
            "delegation",
            "Delegated signing and the authority matrix",
            command,
            machine,
            [*lines, *reading],
        )
        write_section(args.out, text, "delegation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
