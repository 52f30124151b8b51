"""The README's walk-through, run line by line against a real server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def walkthrough_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- walkthrough:start -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->",
        readme,
        re.DOTALL,
    )
    assert block is not None, "README lost its walk-through block"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {
        **os.environ,
        "SCEAU_DATA_DIR": str(tmp_path / "var"),
        "SCEAU_LOG_LEVEL": "WARNING",
        # The walk-through is about signing; anchoring has its own tests,
        # against calendars on loopback (the public ones are out of reach).
        "SCEAU_ANCHOR_WORKER_IN_SERVE": "false",
    }
    process = subprocess.Popen(
        [BIN / "sceau", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the service did not start")
        yield url, env
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_readme_walkthrough_ends_with_a_trusted_signature(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = server
    lines = walkthrough_lines()
    assert len(lines) <= 4  # plus `make serve`: five commands in all
    script = "set -euo pipefail\n" + "\n".join(lines)
    script = (
        script.replace(".venv/bin/", f"{BIN}/")
        .replace("docs/examples/", f"{ROOT}/docs/examples/")
        .replace("http://127.0.0.1:8000", url)
        .replace("var/nss", str(tmp_path / "nss"))
    )

    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "Signature is Valid." in result.stdout
    assert "Certificate is Trusted." in result.stdout
    assert "Atlanta Assurances – système de production" in result.stdout
