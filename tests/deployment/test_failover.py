"""An API process gone: nginx sends everything to the one left."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import httpx

from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.conftest import provision, sign_body
from tests.support.deployment import copy_data_dir, deployment
from tests.support.pdfs import one_page_pdf
from tests.support.servers import process_ends

SIGN = "/api/v1/sceau/b2b/signer"


def test_requests_go_to_the_process_left_when_one_is_killed(
    tmp_path: Path, pki_template: Path, postgres_url: str
) -> None:
    data_dir = copy_data_dir(pki_template, tmp_path / "var")
    with deployment(
        tmp_path / "run", data_dir, postgres_url, workers=1, anchoring_processes=0
    ) as made:
        runtime = Runtime(Settings(data_dir=data_dir, database_url=postgres_url))
        try:
            client = provision(runtime)
        finally:
            runtime.close()
        [first, _] = made.named("api-")
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        assert process_ends(first.pid)

        with httpx.Client(base_url=made.url, timeout=60, trust_env=False) as api:
            answers = [
                api.post(
                    SIGN,
                    json=sign_body(client, one_page_pdf(), niveau="B-T"),
                    headers=client.headers,
                )
                for _ in range(6)
            ]
            health = api.get("/healthz")

        # The signing POSTs found the dead process's port closed, so nginx
        # had sent them nowhere yet and tried the other.
        assert Counter(a.status_code for a in answers) == {200: 6}
        assert health.status_code == 200
