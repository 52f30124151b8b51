"""Keys in a PKCS#11 token against keys in files, in the same run.

Run from the repository root::

    .venv/bin/python -m bench.hsm --out docs/benchmarks.md
    .venv/bin/python -m bench.hsm --quick          # smoke run

Two runtimes in one process, on SQLite: one with sealed files (the embedded
default), one with ``SCEAU_KEY_STORE=pkcs11`` on a fresh SoftHSM2 token made
in a temporary directory (its PKI, TSA key included, and its identities'
keys generated in the token). Each has an RSA-3072 and an ECDSA P-256 system
identity. For each key kind and level (B-B, B-T: the B-T timestamp is signed
by the TSA key, in the token for the token runtime), a 1-page PDF is signed
by the engine alone and through the whole API (``POST /signer`` in process,
FastAPI's TestClient), file and token turn about so that both see the same
load. The ratio is token p50 over file p50; the target is under 1.2.

The section of ``--out`` between the ``bench:hsm`` markers is rewritten; the
rest of the file is left alone.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from tests.conftest import Provisioned, provision, sign_body
from tests.hsm.conftest import softhsm_module
from tests.support.pdfs import one_page_pdf

from bench.harness import out_and_quick, percentile, section, write_section
from bench.signing import code_revision, machine_description
from sceau.app import create_app
from sceau.identities.models import Identity
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.engine import Level

SIGN = "/api/v1/sceau/b2b/signer"
HSM_LABEL = "pixel-sceau-bench"
# A throwaway token's PINs, for this run only.
USER_PIN = "bench-user-pin"
SO_PIN = "bench-so-pin"
LEVELS: tuple[Level, ...] = ("B-B", "B-T")
ALGORITHMS = {"rsa3072": "RSA-3072", "ecdsa-p256": "ECDSA P-256"}
TARGET = 1.2


def make_token(root: Path) -> Path:
    """A SoftHSM2 token in ``root``; returns the module and points SoftHSM
    (SOFTHSM2_CONF) at it before the module is loaded."""
    tokens = root / "tokens"
    tokens.mkdir()
    config = root / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
        "log.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(config)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            HSM_LABEL,
            "--pin",
            USER_PIN,
            "--so-pin",
            SO_PIN,
        ],
        check=True,
        capture_output=True,
    )
    return softhsm_module()


def make_runtime(data_dir: Path, **settings: object) -> Runtime:
    data_dir.mkdir()
    runtime = Runtime(
        Settings(
            data_dir=data_dir,
            database_url=f"sqlite:///{data_dir / 'sceau.db'}",
            log_format="text",
            log_level="WARNING",
            **settings,
        )
    )
    runtime.prepare()
    return runtime


def identities(runtime: Runtime) -> dict[str, Provisioned]:
    return {
        algorithm: provision(
            runtime,
            name=f"Banc {algorithm}",
            label=f"Banc {algorithm} – production",
            body=f"BANC{index}",
            algorithm=algorithm,
        )
        for index, algorithm in enumerate(ALGORITHMS)
    }


def engine_call(
    runtime: Runtime, client: Provisioned, level: Level
) -> Callable[[], None]:
    with runtime.db.sessions() as session:
        identity = session.get_one(Identity, client.code_09)
    key = runtime.signing_key(identity)
    pdf = one_page_pdf()
    counter = iter(range(10**9))

    def call() -> None:
        runtime.engine.sign(
            pdf,
            key=key,
            reason="banc",
            signer_name=identity.label,
            level=level,
            field_name=f"Banc-{next(counter)}",
            trust=None,
        )

    return call


def api_call(api: TestClient, client: Provisioned, level: Level) -> Callable[[], None]:
    body = sign_body(client, one_page_pdf(), niveau=level)

    def call() -> None:
        response = api.post(SIGN, json=body, headers=client.headers)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

    return call


def measure(
    calls: dict[str, Callable[[], None]], rounds: int
) -> dict[str, list[float]]:
    for call in calls.values():
        call()  # warm: per-thread signers, the TSA probe, the token's key lookup
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def table(
    samples: dict[str, list[float]], rounds: int
) -> tuple[list[str], dict[str, float]]:
    lines = [
        f"{rounds} signatures of each kind, file and token interleaved; 1-page PDF.",
        "",
        "| path | key | level | file p50 (ms) | token p50 (ms) | file p95 (ms) | "
        "token p95 (ms) | token / file (p50) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    worst = {"engine": 0.0, "API": 0.0}
    for path in ("engine", "API"):
        for algorithm, shown in ALGORITHMS.items():
            for level in LEVELS:
                file = samples[f"{path}|file|{algorithm}|{level}"]
                token = samples[f"{path}|token|{algorithm}|{level}"]
                ratio = statistics.median(token) / statistics.median(file)
                worst[path] = max(worst[path], ratio)
                lines.append(
                    f"| {path} | {shown} | {level} | {statistics.median(file):.1f} | "
                    f"{statistics.median(token):.1f} | {percentile(file, 0.95):.1f} | "
                    f"{percentile(token, 0.95):.1f} | {ratio:.2f} |"
                )
    return lines, worst


def main(argv: list[str] | None = None) -> int:
    args = out_and_quick(__doc__.split("\n")[0], argv)
    load_at_start = os.getloadavg()[0]
    rounds = 10 if args.quick else 200
    with tempfile.TemporaryDirectory(prefix="sceau-bench-hsm-") as tmp:
        root = Path(tmp)
        module = make_token(root)
        pin_file = root / "pin"
        pin_file.write_text(USER_PIN + "\n")
        pin_file.chmod(0o600)
        by_file = make_runtime(root / "file")
        by_token = make_runtime(
            root / "token",
            key_store="pkcs11",
            pkcs11_module=module,
            pkcs11_token=HSM_LABEL,
            pkcs11_pin_file=pin_file,
        )
        try:
            with (
                TestClient(create_app(by_file.settings, by_file)) as file_api,
                TestClient(create_app(by_token.settings, by_token)) as token_api,
            ):
                stores = {
                    "file": (by_file, file_api, identities(by_file)),
                    "token": (by_token, token_api, identities(by_token)),
                }
                calls: dict[str, Callable[[], None]] = {}
                for algorithm in ALGORITHMS:
                    for level in LEVELS:
                        for store, (runtime, api, clients) in stores.items():
                            client = clients[algorithm]
                            calls[f"engine|{store}|{algorithm}|{level}"] = engine_call(
                                runtime, client, level
                            )
                            calls[f"API|{store}|{algorithm}|{level}"] = api_call(
                                api, client, level
                            )
                samples = measure(calls, rounds)
                assert by_token.token is not None
                logins = by_token.token.pool.logins
        finally:
            by_file.close()
            by_token.close()

    lines, worst = table(samples, rounds)
    lines += [
        "",
        f"Worst ratio through the API {worst['API']:.2f} "
        f"({'meets' if worst['API'] < TARGET else 'misses'} the {TARGET}× target); "
        f"of the engine alone {worst['engine']:.2f} "
        f"({'meets' if worst['engine'] < TARGET else 'misses'} it). The token "
        f"logged in {logins} time(s) for all of it.",
    ]
    print("\n".join(lines))
    if args.out is not None and not args.quick:
        command = "python -m bench.hsm --out " + str(args.out)
        machine = machine_description(load_at_start, code_revision())
        reading = [
            "",
            "The target is for what the client sees, the API rows. The engine "
            "rows show the token's own cost against a file-key signature of only "
            "a few milliseconds: the pool adds nothing measurable (one login, no "
            "session opened per signature), but SoftHSM rebuilds an OpenSSL key "
            "from the token object at every C_SignInit. B-T pays it twice, the "
            "TSA key being in the token too. A network HSM adds its round trip "
            "to each of those signatures instead.",
        ]
        text = section(
            "hsm", "Keys in a PKCS#11 token", command, machine, lines + reading
        )
        write_section(args.out, text, "hsm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
