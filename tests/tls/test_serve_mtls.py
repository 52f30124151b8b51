"""`sceau serve --mtls`, as an operator starts it: one command, the
application and its front; stopping the service stops the front."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, process_ends


def haproxy_children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"haproxy" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGKILL])
def test_serve_with_mtls_runs_the_front_and_stops_it(
    data_dir: Path, stop_with: signal.Signals
) -> None:
    port, tls_port = free_port(), free_port()
    env = {
        **os.environ,
        "SCEAU_DATA_DIR": str(data_dir),
        "SCEAU_LOG_FORMAT": "text",
        "SCEAU_WORKER_IN_SERVE": "false",
        "SCEAU_ANCHOR_WORKER_IN_SERVE": "false",
    }
    service = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "sceau"),
            "serve",
            "--port",
            str(port),
            "--mtls",
            f"127.0.0.1:{tls_port}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        fronts = haproxy_children(service.pid)
        ca = data_dir / "front" / "access-ca.pem"
        with pytest.raises(httpx.TransportError):
            httpx.get(
                f"https://127.0.0.1:{tls_port}/healthz",
                verify=ssl.create_default_context(cafile=str(ca)),
            )

        service.send_signal(stop_with)
        service.wait(timeout=20)

        assert len(fronts) == 1
        assert process_ends(fronts[0])
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
