"""``sceau serve --mtls``: the application on its usual TCP port (levels A and
B, behind the operator's ordinary TLS terminator) and on the front's Unix
socket, with the HAProxy mutual-TLS front for level C started beside it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import uvicorn
from uvicorn.supervisors import Multiprocess

from sceau.ops.processes import anchoring_beside
from sceau.settings import Settings, get_settings
from sceau.tls.front import (
    CrlRefresher,
    FrontFiles,
    HaproxyProcess,
    write_front_files,
)

# Well inside the CRL's seven days, and soon after any missed push.
CRL_REFRESH_SECONDS = 3600.0


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - a listen address


def front_directory(settings: Settings) -> Path:
    return settings.data_dir / "front"


def bind_sockets(host: str, port: int, app_socket: Path) -> list[socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    tcp = socket.socket(family, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((host, port))
    app_socket.unlink(missing_ok=True)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(app_socket))
    for sock in (tcp, unix):
        sock.set_inheritable(True)
    return [tcp, unix]


def serve_behind_front(
    *,
    host: str,
    port: int,
    mtls: str,
    server_names: list[str],
    server_pem: Path | None,
    workers: int,
) -> None:
    from sceau.runtime import Runtime

    settings = get_settings()
    front_host, front_port = parse_listen(mtls)
    runtime = Runtime(settings)
    runtime.prepare()
    files = write_front_files(
        runtime,
        front_directory(settings),
        host=front_host,
        port=front_port,
        server_names=server_names,
        server_pem=server_pem,
    )

    # Every worker process reads its settings from the environment.
    os.environ["SCEAU_FRONT_SOCKET"] = str(files.app_socket)
    get_settings.cache_clear()
    sockets = bind_sockets(host, port, files.app_socket)
    front = HaproxyProcess(FrontFiles(files.directory))
    front.start()
    refresher = CrlRefresher(runtime, files, CRL_REFRESH_SECONDS)
    refresher.start()
    try:
        config = uvicorn.Config(
            "sceau.app:create_app",
            factory=True,
            workers=workers,
            log_config=None,
            access_log=False,
            server_header=False,
        )
        server = uvicorn.Server(config)
        with anchoring_beside(settings):
            if workers > 1:
                Multiprocess(config, sockets=sockets).run()
            else:
                server.run(sockets=sockets)
    finally:
        refresher.stop()
        front.stop()
        runtime.close()
        files.app_socket.unlink(missing_ok=True)
