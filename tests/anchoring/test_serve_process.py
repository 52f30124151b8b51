"""`sceau serve` anchors through a child process of its own, which ends with
the service."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import provision
from tests.support.ots_calendar import LoopbackCalendar, LoopbackChain
from tests.support.pdfs import one_page_pdf
from tests.support.servers import free_port, process_ends
from tests.tls.test_serve_mtls import haproxy_children


def children(parent: int, marker: bytes) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and marker in cmdline:
            found.append(int(entry.name))
    return found


def test_serve_anchors_in_a_child_process_that_ends_with_it(
    data_dir: Path, calendars: list[LoopbackCalendar], chain: LoopbackChain
) -> None:
    from sceau.runtime import Runtime
    from sceau.settings import Settings

    runtime = Runtime(Settings(data_dir=data_dir))
    runtime.prepare()
    client = provision(runtime)
    runtime.close()
    port = free_port()
    env = {
        **os.environ,
        "SCEAU_DATA_DIR": str(data_dir),
        "SCEAU_LOG_LEVEL": "WARNING",
        "SCEAU_WORKER_IN_SERVE": "false",
        "SCEAU_ANCHOR_CALENDARS": ",".join(c.url for c in calendars),
        "SCEAU_ANCHOR_HEADER_SOURCE": f"esplora:{chain.url}",
        "SCEAU_ANCHOR_INTERVAL_SECONDS": "0.2",
    }
    service = subprocess.Popen(
        [str(Path(sys.executable).parent / "sceau"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        signed = httpx.post(
            f"{url}/api/v1/sceau/b2b/signer",
            headers=client.headers,
            json={
                "code_09": client.code_09,
                "nom_signataire": client.label,
                "motif": "Attestation",
                "pdf_b64": base64.b64encode(one_page_pdf()).decode(),
                "niveau": "B-T",
            },
            timeout=30,
        ).json()
        ref = signed["ref_horodatage"]
        while (
            httpx.get(
                f"{url}/api/v1/sceau/horodatages/{ref}", headers=client.headers
            ).json()["statut"]
            != "soumis"
        ):
            assert time.monotonic() < deadline + 30, "never submitted"
            time.sleep(0.1)
        anchoring = children(service.pid, b"anchoring")

        service.send_signal(signal.SIGKILL)
        service.wait(timeout=20)

        assert len(anchoring) == 1
        assert [len(c.digests_received) for c in calendars] == [1, 1]
        assert process_ends(anchoring[0])
        assert haproxy_children(service.pid) == []
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()


def test_anchoring_process_stops_on_sigterm_whenever_it_arrives(
    data_dir: Path, calendars: list[LoopbackCalendar], chain: LoopbackChain
) -> None:
    """SIGTERM at any moment of the loop ends the process: it is taken
    synchronously, not by a handler racing the main thread's locks."""
    from sceau.runtime import Runtime
    from sceau.settings import Settings

    runtime = Runtime(Settings(data_dir=data_dir))
    runtime.prepare()
    runtime.close()
    env = {
        **os.environ,
        "SCEAU_DATA_DIR": str(data_dir),
        "SCEAU_LOG_LEVEL": "WARNING",
        "SCEAU_ANCHOR_CALENDARS": ",".join(c.url for c in calendars),
        "SCEAU_ANCHOR_HEADER_SOURCE": f"esplora:{chain.url}",
        "SCEAU_ANCHOR_INTERVAL_SECONDS": "0.01",
    }
    codes = []
    # Early signals land during start-up (the default action ends the
    # process); later ones in the loop, at varying points of a pass.
    for delay in (0.5, 1.5, 2.5, 3.0, 3.5):
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "sceau"), "anchoring", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(delay)
            worker.send_signal(signal.SIGTERM)
            codes.append(worker.wait(timeout=15))
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    assert set(codes) <= {0, -signal.SIGTERM}
    assert codes[-3:] == [0, 0, 0]  # stopped cleanly from inside the loop
