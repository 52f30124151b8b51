"""The service as it runs in production, on loopback: nginx in front of N
``sceau serve`` API processes, M ``sceau worker`` processes and K ``sceau
anchoring run`` processes, all on one PostgreSQL schema and one data
directory (PKI certificates, sealed keys, master key).

Every process is a real subprocess; nginx is Debian's binary in the
foreground with a configuration made by ``sceau deploy nginx``'s own code,
every path under a private prefix. A process that fails to start, or dies,
is reported with the tail of its log.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx

from sceau.deploy.nginx import NginxSite, Standalone, render_standalone
from sceau.ops.processes import die_with_parent
from tests.support.servers import free_port

NGINX = "/usr/sbin/nginx"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 35.0
LOG_TAIL = 4000
# nginx's error-log levels that are errors (``warn`` and below are not).
NGINX_ERROR_LEVELS = ("error", "crit", "alert", "emerg")


class DeploymentError(RuntimeError):
    """A process of the deployment did not start, or ended on its own."""


@dataclass
class ServiceProcess:
    """One subprocess, its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Never outlives the test run, however it ends.
                preexec_fn=die_with_parent,  # only a prctl call before exec
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def tail(self) -> str:
        try:
            content = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return content[-LOG_TAIL:]


@dataclass
class Deployment:
    url: str  # through nginx
    api_urls: list[str]  # each API process directly
    data_dir: Path
    database_url: str
    env: dict[str, str]
    directory: Path
    processes: list[ServiceProcess] = field(default_factory=list)

    @property
    def nginx_access_log(self) -> Path:
        return self.directory / "nginx" / "logs" / "access.log"

    def named(self, prefix: str) -> list[ServiceProcess]:
        return [p for p in self.processes if p.name.startswith(prefix)]

    def check_alive(self) -> None:
        """Raise, with the logs, if any process ended on its own."""
        dead = [p for p in self.processes if not p.running()]
        if dead:
            raise DeploymentError(
                "ended on its own: "
                + ", ".join(p.name for p in dead)
                + "\n"
                + self.logs(dead)
            )

    @property
    def nginx_error_log(self) -> Path:
        return self.directory / "nginx" / "logs" / "error.log"

    def nginx_upstream_errors(self) -> list[str]:
        """nginx's errors about the API processes (a connection refused, or
        closed or timed out under a request): none is expected while they
        all run. Warnings ("an upstream response is buffered to a temporary
        file") and notices are not errors."""
        lines = (
            self.nginx_error_log.read_text().splitlines()
            if self.nginx_error_log.exists()
            else []
        )
        return [
            line
            for line in lines
            if any(f" [{level}] " in line for level in NGINX_ERROR_LEVELS)
            and "upstream" in line
        ]

    def logs(self, which: list[ServiceProcess] | None = None) -> str:
        return "\n".join(
            f"----- {p.name} ({p.log}) -----\n{p.tail()}"
            for p in (which if which is not None else self.processes)
        )


def service_env(
    data_dir: Path, database_url: str, overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """What every process of the deployment reads: the same data directory and
    database, no worker inside ``sceau serve``, and nothing of the caller's
    own SCEAU_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCEAU_")}
    env.update(
        {
            "SCEAU_DATA_DIR": str(data_dir),
            "SCEAU_DATABASE_URL": database_url,
            "SCEAU_WORKER_IN_SERVE": "false",
            "SCEAU_ANCHOR_WORKER_IN_SERVE": "false",
            "SCEAU_LOG_FORMAT": "text",
            "SCEAU_LOG_LEVEL": "WARNING",
            # uvicorn's own default, whatever the caller's: nginx's address.
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
        }
    )
    env.update(overrides or {})
    return env


def sceau(*args: str) -> list[str]:
    return [sys.executable, "-m", "sceau", *args]


@contextmanager
def deployment(
    directory: Path,
    data_dir: Path,
    database_url: str,
    *,
    api_processes: int = 2,
    workers: int = 2,
    anchoring_processes: int = 2,
    env: dict[str, str] | None = None,
) -> Iterator[Deployment]:
    """Migrate once, start everything, wait until each part is up; on the way
    out stop each process (SIGTERM, SIGQUIT for nginx) and kill what lingers."""
    if not Path(NGINX).exists():
        raise DeploymentError(f"{NGINX} is missing: run `make test-tools`")
    directory.mkdir(parents=True, exist_ok=True)
    _migrate(directory, service_env(data_dir, database_url, env))

    # Chosen just before the processes start: the less time between, the
    # less chance another program takes a port meanwhile.
    nginx_port = free_port()
    url = f"http://127.0.0.1:{nginx_port}"
    full_env = service_env(
        data_dir, database_url, {"SCEAU_PUBLIC_BASE_URL": url, **(env or {})}
    )
    api_ports = [free_port() for _ in range(api_processes)]
    made = Deployment(
        url=url,
        api_urls=[f"http://127.0.0.1:{port}" for port in api_ports],
        data_dir=data_dir,
        database_url=database_url,
        env=full_env,
        directory=directory,
    )
    for n, port in enumerate(api_ports, 1):
        made.processes.append(
            ServiceProcess(
                f"api-{n}",
                sceau("serve", "--host", "127.0.0.1", "--port", str(port)),
                full_env,
                directory / f"api-{n}.log",
            )
        )
    # The loops log at INFO: their first line says they run, and the rest
    # is little.
    loop_env = {**full_env, "SCEAU_LOG_LEVEL": "INFO"}
    for n in range(1, workers + 1):
        made.processes.append(
            ServiceProcess(
                f"worker-{n}", sceau("worker"), loop_env, directory / f"worker-{n}.log"
            )
        )
    for n in range(1, anchoring_processes + 1):
        made.processes.append(
            ServiceProcess(
                f"anchoring-{n}",
                sceau("anchoring", "run"),
                loop_env,
                directory / f"anchoring-{n}.log",
            )
        )
    made.processes.append(_nginx(directory / "nginx", nginx_port, api_ports))

    with ExitStack() as stack:
        for process in made.processes:
            stack.callback(process.stop)
        try:
            for process in made.processes:
                process.start()
            _wait_until_up(made)
        except BaseException as exc:
            for process in made.processes:
                process.kill()
            if isinstance(exc, DeploymentError):
                raise
            raise DeploymentError(f"{exc!r}\n{made.logs()}") from exc
        yield made


def _migrate(directory: Path, env: dict[str, str]) -> None:
    """``sceau db upgrade``, once, before any process starts."""
    done = subprocess.run(
        sceau("db", "upgrade"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    (directory / "db-upgrade.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise DeploymentError(f"sceau db upgrade failed:\n{done.stderr[-LOG_TAIL:]}")


def _nginx(prefix: Path, port: int, api_ports: list[int]) -> ServiceProcess:
    for sub in ("logs", "temp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    site = NginxSite(
        upstreams=[f"127.0.0.1:{p}" for p in api_ports], listen=f"127.0.0.1:{port}"
    )
    # As root, nginx's workers would otherwise drop to nobody, who cannot
    # enter the private prefix.
    user = "root" if os.geteuid() == 0 else None
    config = prefix / "nginx.conf"
    config.write_text(render_standalone(site, Standalone(user=user)))
    error_log = prefix / "logs" / "error.log"
    checked = subprocess.run(
        [NGINX, "-t", "-q", "-p", str(prefix), "-c", str(config), "-e", str(error_log)],
        capture_output=True,
        text=True,
        check=False,
    )
    if checked.returncode != 0:
        raise DeploymentError(f"nginx -t refused the configuration:\n{checked.stderr}")
    return ServiceProcess(
        "nginx",
        [NGINX, "-p", str(prefix), "-c", str(config), "-e", str(error_log)],
        {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin")},
        prefix / "logs" / "stdout.log",
        # Graceful: requests in flight are answered first.
        stop_signal=signal.SIGQUIT,
    )


def _wait_until_up(made: Deployment) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(timeout=5, trust_env=False) as client:
        for base in [*made.api_urls, made.url]:
            while not _healthy(client, base):
                made.check_alive()
                if time.monotonic() > deadline:
                    raise DeploymentError(f"{base}/healthz never answered 200")
                time.sleep(0.1)
    # The loops have no port: their first log line says they run.
    for process in made.named("worker-") + made.named("anchoring-"):
        marker = (
            "worker.started"
            if process.name.startswith("worker")
            else ("anchoring.started")
        )
        while marker not in process.tail() and process.running():
            if time.monotonic() > deadline:
                raise DeploymentError(f"{process.name} never logged {marker}")
            time.sleep(0.1)
    made.check_alive()


def _healthy(client: httpx.Client, base: str) -> bool:
    try:
        return client.get(f"{base}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def copy_data_dir(template: Path, target: Path) -> Path:
    """A data directory holding a PKI made beforehand (certificates, sealed
    keys and the development master key): what each machine of a deployment
    is given."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template / "pki", target / "pki")
    shutil.copy2(template / "master.key", target / "master.key")
    return target
