"""The mutual-TLS front for level C: HAProxy, configured by the service.

Why HAProxy: with ``verify required`` it aborts the TLS handshake when the
client has no certificate, or one the access CA did not issue, or one its CRL
revokes; nginx lets such a handshake finish and answers 400 afterwards. The
front forwards three headers (peer address, verification result, the
certificate itself) to the application over a Unix socket in a directory only
the service's user can enter; the application believes them from that socket
alone (``sceau.auth.front``).

HAProxy's runtime API takes a new CRL without a restart: ``push_crl`` sends
it after every revocation, so the handshake refuses a revoked certificate at
once, as the application already does.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sceau.errors import ConfigurationError
from sceau.ops.processes import die_with_parent, minimal_environment
from sceau.pki.access import AccessCa
from sceau.runtime import Runtime

logger = logging.getLogger(__name__)

START_TIMEOUT = 10.0


@dataclass(frozen=True)
class FrontFiles:
    """Everything the front reads, in one directory of its own."""

    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "haproxy.cfg"

    @property
    def server_pem(self) -> Path:
        return self.directory / "server.pem"  # certificate, chain and key

    @property
    def access_ca(self) -> Path:
        return self.directory / "access-ca.pem"

    @property
    def crl(self) -> Path:
        return self.directory / "access-crl.pem"

    @property
    def app_socket(self) -> Path:
        return self.directory / "app.sock"

    @property
    def admin_socket(self) -> Path:
        return self.directory / "admin.sock"

    @property
    def token(self) -> Path:
        return self.directory / "front.token"


def front_token_of(app_socket: Path) -> str:
    """The secret the front sends with every request, beside its socket."""
    try:
        return (app_socket.parent / "front.token").read_text().strip()
    except OSError as exc:
        raise ConfigurationError(
            f"SCEAU_FRONT_SOCKET is set but {app_socket.parent}/front.token cannot "
            "be read: write the front's files with `sceau tls front-config`."
        ) from exc


def render_config(files: FrontFiles, *, host: str, port: int, token: str) -> str:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"""\
# Mutual-TLS front of Pixel Sceau (level C), written by `sceau tls front-config`.
global
    log stderr format short local0 warning
    stats socket {files.admin_socket} mode 600 level admin
    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets

defaults
    mode http
    log global
    timeout connect 5s
    timeout client 60s
    timeout server 120s
    timeout http-request 30s

frontend sceau_mtls
    # verify required: no certificate, another CA's, or a revoked one ends the
    # handshake with an alert; nothing reaches the application.
    bind {bind} ssl crt {files.server_pem} ca-file {files.access_ca} \
verify required crl-file {files.crl} alpn http/1.1
    # What a client sends under these names is dropped, then set from what
    # this front saw and verified itself.
    http-request del-header X-Pixel-Front-Peer
    http-request del-header X-Pixel-Front-Verify
    http-request del-header X-Pixel-Front-Cert
    http-request del-header X-Pixel-Front-Token
    http-request set-header X-Pixel-Front-Token {token}
    http-request set-header X-Pixel-Front-Peer %[src]
    http-request set-header X-Pixel-Front-Verify SUCCESS if {{ ssl_c_verify 0 }}
    http-request set-header X-Pixel-Front-Cert %[ssl_c_der,base64]
    default_backend sceau_app

backend sceau_app
    server app unix@{files.app_socket}
"""


def write_front_files(
    runtime: Runtime,
    directory: Path,
    *,
    host: str,
    port: int,
    server_names: list[str],
    server_pem: Path | None = None,
) -> FrontFiles:
    """The config, the access CA, its CRL and the server certificate.

    Without ``server_pem`` (certificate chain and key in one PEM, as HAProxy
    wants), a development server certificate for ``server_names`` is issued
    by the access CA; production fronts usually carry a public CA's.
    """
    directory.mkdir(parents=True, exist_ok=True)
    # The application socket lives here: only the service's user may enter.
    directory.chmod(0o700)
    files = FrontFiles(directory)
    access_ca = runtime.access_ca

    if server_pem is not None:
        shutil.copyfile(server_pem, files.server_pem)
    else:
        _write_private(files.server_pem, _development_server_pem(runtime, server_names))
    files.access_ca.write_bytes(access_ca.certificate_pem)
    write_crl(runtime, files)
    # The front proves itself to the application with this secret, on top of
    # the socket's permissions: no other local process can pose as the front.
    token = secrets.token_urlsafe(32)
    _write_private(files.token, token.encode())
    _write_private(
        files.config, render_config(files, host=host, port=port, token=token).encode()
    )
    return files


def _development_server_pem(runtime: Runtime, server_names: list[str]) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    with runtime.db.transaction() as session:
        certificate = runtime.access_ca.issue_server_certificate(
            session, server_names, key.public_key()
        )
    return (
        certificate.public_bytes(serialization.Encoding.PEM)
        + runtime.access_ca.certificate_pem
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def crl_pem(access_ca: AccessCa, runtime: Runtime) -> bytes:
    with runtime.db.sessions() as session:
        return access_ca.crl(session).public_bytes(serialization.Encoding.PEM)


def write_crl(runtime: Runtime, files: FrontFiles) -> bytes:
    pem = crl_pem(runtime.access_ca, runtime)
    temporary = files.crl.with_suffix(".tmp")
    temporary.write_bytes(pem)
    os.replace(temporary, files.crl)
    return pem


def push_crl(files: FrontFiles, pem: bytes) -> bool:
    """Hand a running front its new CRL; False when no front is running."""
    if not files.admin_socket.exists():
        return False
    payload = pem.decode().strip()
    try:
        _admin(files.admin_socket, f"set ssl crl-file {files.crl} <<\n{payload}\n\n")
        answer = _admin(files.admin_socket, f"commit ssl crl-file {files.crl}\n")
    except OSError:
        logger.warning("tls.front_unreachable")
        return False
    if "Success" not in answer:
        logger.error("tls.crl_push_failed", extra={"answer": answer[:200]})
        return False
    return True


def _admin(path: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(5)
        connection.connect(str(path))
        connection.sendall(command.encode())
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)


class HaproxyProcess:
    """HAProxy in the foreground, as a child of the service (or of a test)."""

    def __init__(self, files: FrontFiles) -> None:
        self.files = files
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("haproxy")
        if binary is None:
            raise ConfigurationError(
                "haproxy is missing: install it (Debian: apt-get install haproxy)."
            )
        check = subprocess.run(
            [binary, "-c", "-q", "-f", str(self.files.config)],
            capture_output=True,
            check=False,
            # Nothing secret of the service's environment (master key, PIN).
            env=minimal_environment(),
        )
        if check.returncode != 0:
            raise ConfigurationError(
                "the TLS front's configuration is refused by haproxy: "
                + check.stderr.decode(errors="replace")[-500:]
            )
        self.files.admin_socket.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            [binary, "-db", "-f", str(self.files.config)],
            stdout=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            env=minimal_environment(),
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.files.admin_socket.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise ConfigurationError("the TLS front (haproxy) did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGUSR1)  # finish open connections
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self.files.admin_socket.unlink(missing_ok=True)


class CrlRefresher:
    """Rewrites and hands over the front's CRL on a schedule: a CRL is valid
    for seven days and HAProxy refuses every certificate once it lapses."""

    def __init__(self, runtime: Runtime, files: FrontFiles, every: float) -> None:
        self._runtime = runtime
        self._files = files
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                push_crl(self._files, write_crl(self._runtime, self._files))
            except Exception:  # the next round tries again; the cause is logged
                logger.exception("tls.crl_refresh_failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
