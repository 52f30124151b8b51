"""Real servers on loopback for end-to-end tests: the application under
uvicorn (TCP, and the front's Unix socket when asked), and the HAProxy
mutual-TLS front in front of it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from sceau.app import create_app
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.tls.front import FrontFiles, HaproxyProcess, write_front_files
from sceau.tls.serve import bind_sockets


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveApp:
    base_url: str
    app_socket: Path | None
    # The application served, for a test that freezes its clocks.
    app: FastAPI | None = None


@contextmanager
def live_app(
    settings: Settings,
    runtime: Runtime,
    *,
    app_socket: Path | None = None,
    port: int | None = None,
) -> Iterator[LiveApp]:
    """The application on 127.0.0.1 (and on ``app_socket``), in a thread; on
    ``port`` when the caller had to know it beforehand (a public base URL)."""
    port = port or free_port()
    if app_socket is not None:
        settings = settings.model_copy(update={"front_socket": app_socket})
        sockets = bind_sockets("127.0.0.1", port, app_socket)
    else:
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", port))
        sockets = [tcp]

    app = create_app(settings, runtime)
    config = uvicorn.Config(app, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets})
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the application server did not start")
        time.sleep(0.02)
    try:
        yield LiveApp(f"http://127.0.0.1:{port}", app_socket, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        for sock in sockets:
            sock.close()


@dataclass(frozen=True)
class MtlsFront:
    url: str  # https://127.0.0.1:PORT, through HAProxy
    direct_url: str  # the application's own TCP port, bypassing the front
    files: FrontFiles


@contextmanager
def mtls_front(
    settings: Settings, runtime: Runtime, directory: Path
) -> Iterator[MtlsFront]:
    port = free_port()
    files = write_front_files(
        runtime,
        directory,
        host="127.0.0.1",
        port=port,
        server_names=["127.0.0.1", "localhost"],
    )
    with live_app(settings, runtime, app_socket=files.app_socket) as app:
        front = HaproxyProcess(files)
        front.start()
        try:
            yield MtlsFront(f"https://127.0.0.1:{port}", app.base_url, files)
        finally:
            front.stop()


def process_ends(pid: int, timeout: float = 15.0) -> bool:
    """Whether the process is gone (or a zombie) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False
