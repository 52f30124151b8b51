"""What every benchmark of this directory shares: its section of
``docs/benchmarks.md``, nearest-rank percentiles, a free loopback port."""

from __future__ import annotations

import argparse
import math
import socket
from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def write_section(path: Path, section: str, name: str) -> None:
    """Replace the benchmark's section between its markers and keep the rest of
    the file, read again right now: other benchmarks write their own."""
    start_marker, end_marker = markers(name)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# Benchmarks\n\n" + section)
        return
    content = path.read_text()
    start, end = content.find(start_marker), content.find(end_marker)
    if start == -1 or end == -1 or end < start:
        path.write_text(content.rstrip("\n") + "\n\n" + section)
        return
    tail = content[end + len(end_marker) :].lstrip("\n")
    path.write_text(content[:start] + section + ("\n" + tail if tail else ""))


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest rank: the smallest sample at or above ``fraction`` of them."""
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def section(
    name: str, title: str, command: str, machine: list[str], lines: list[str]
) -> str:
    """A benchmark's section of ``docs/benchmarks.md``: its markers, title,
    the command that produced it, the machine, then its lines."""
    start, end = markers(name)
    body = [start, f"## {title}", "", f"Command: `{command}`", "", *machine, ""]
    return "\n".join([*body, *lines, "", end]) + "\n"


def out_and_quick(description: str, argv: list[str] | None) -> argparse.Namespace:
    """``--out FILE`` (the section is written there) and ``--quick``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true")
    return parser.parse_args(argv)
