"""Signatures made at once by many threads of one process, from a cold start
(keys, CRLs and the TSA probe not loaded yet) all succeed."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sceau.audit.actors import Actor
from sceau.modes.system import SystemSignatureRequest, sign_in_system_mode
from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.conftest import Provisioned, provision

THREADS = 8


@pytest.mark.parametrize("level", ["B-T", "B-LT"])
def test_cold_start_signs_concurrently_without_failures(
    settings: Settings, pdf: bytes, level: str
) -> None:
    # Switch threads as often as the interpreter can, so that two threads
    # meet inside any shared lazily-built structure.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _sign_in_rounds(settings, pdf, level)
    finally:
        sys.setswitchinterval(previous)


def _sign_in_rounds(settings: Settings, pdf: bytes, level: str) -> None:
    for _ in range(3):
        runtime = Runtime(settings)
        runtime.prepare()
        atlanta = provision(runtime, body=None)
        start = threading.Barrier(THREADS)

        def sign(
            index: int,
            runtime: Runtime = runtime,
            atlanta: Provisioned = atlanta,
            start: threading.Barrier = start,
        ) -> str:
            start.wait()
            outcome = sign_in_system_mode(
                runtime,
                SystemSignatureRequest(
                    code_09=atlanta.code_09,
                    signer_name=atlanta.label,
                    reason=f"Attestation {index}",
                    pdf=pdf,
                    level=level,  # type: ignore[arg-type]
                    callback_url=None,
                ),
                client_id=atlanta.client_id,
                api_key_id=atlanta.api_key_id,
                request_id=f"req_concurrent_{index}",
                started=time.perf_counter(),
                actor=Actor(
                    kind="client", id=atlanta.client_id, client_id=atlanta.client_id
                ),
            )
            return outcome.record.ref

        with ThreadPoolExecutor(THREADS) as pool:
            refs = list(pool.map(sign, range(THREADS)))
        runtime.close()

        assert len(set(refs)) == THREADS
