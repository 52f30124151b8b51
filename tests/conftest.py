"""Shared fixtures: a data directory with the service's PKI, a runtime on
SQLite and on the local PostgreSQL, a provisioned client, sample PDFs; and a
guard that fails any test during which the service answered a bug with a 500,
unless the test says it expects one."""

from __future__ import annotations

import base64
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.audit.actors import Actor
from sceau.clients.provisioning import provision_system_client
from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.support.pdfs import one_page_pdf
from tests.support.postgres import postgres_schema

POSTGRES_ADMIN_URL = os.environ.get(
    "SCEAU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
LABEL = "Atlanta Assurances – système de production"

# What the service's last-resort handler logs, with the trace, when a route or
# a middleware raised something no other handler took.
UNEXPECTED_ERROR = "request.unexpected_error"
SERVER_ERROR_EXPECTED = "server_error_expected"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{SERVER_ERROR_EXPECTED}: the test provokes a bug on purpose and expects "
        "the service to answer it with a 500 (erreur_interne)",
    )


class _UnexpectedErrors(logging.Handler):
    """Keeps the unexpected-error records of the service's loggers, from any
    thread of the test process (the live servers run uvicorn in one)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == UNEXPECTED_ERROR:
            self.records.append(record)


@pytest.fixture(autouse=True)
def no_unexpected_server_error(request: pytest.FixtureRequest) -> Iterator[None]:
    """The service answers a bug with a 500 and does not raise it, so a test
    client never sees it raised: this fails the test instead, whatever the
    test asserted, unless it is marked ``server_error_expected``. It hears
    this process's loggers only: a ``sceau serve`` run as a process of its
    own logs to its own output."""
    handler = _UnexpectedErrors()
    # The parent of every service logger; the CLI's logging setup replaces
    # the root's handlers only, never this one's.
    service = logging.getLogger("sceau")
    service.addHandler(handler)
    try:
        yield
    finally:
        service.removeHandler(handler)
    if not handler.records or request.node.get_closest_marker(SERVER_ERROR_EXPECTED):
        return
    failures = []
    for record in handler.records:
        exc = record.exc_info[1] if record.exc_info else None
        failures.append(
            f"{type(exc).__name__}: {exc}" if exc is not None else record.getMessage()
        )
    pytest.fail(
        f"the service answered {len(failures)} unexpected error(s) with a 500 "
        f"({UNEXPECTED_ERROR}): "
        + "; ".join(failures)
        + f" (mark the test @pytest.mark.{SERVER_ERROR_EXPECTED} if it is meant to)",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def pki_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PKI for the whole run: generating RSA-3072 CA keys takes a second."""
    directory = tmp_path_factory.mktemp("pki-template")
    runtime = Runtime(Settings(data_dir=directory))
    runtime.prepare()
    runtime.close()
    return directory


@pytest.fixture
def data_dir(tmp_path: Path, pki_template: Path) -> Path:
    directory = tmp_path / "var"
    directory.mkdir()
    shutil.copytree(pki_template / "pki", directory / "pki")
    shutil.copy2(pki_template / "master.key", directory / "master.key")
    return directory


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the local PostgreSQL, dropped after the test."""
    with postgres_schema(POSTGRES_ADMIN_URL) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, data_dir: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{data_dir / 'sceau.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def settings(data_dir: Path, database_url: str) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, log_format="text")


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(settings)
    runtime.prepare()
    yield runtime
    runtime.close()


@pytest.fixture
def api(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime.settings, runtime)) as client:
        yield client


@dataclass(frozen=True)
class Provisioned:
    client_id: str
    api_key: str
    api_key_id: str
    code_09: str
    label: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Identity-API-Key": self.api_key}


def provision(
    runtime: Runtime,
    *,
    name: str = "Atlanta Assurances",
    label: str = LABEL,
    body: str | None = "ATLANTASYS",
    algorithm: str = "rsa3072",
    state: str = "production",
) -> Provisioned:
    with runtime.db.transaction() as session:
        made = provision_system_client(
            session,
            runtime.pki,
            runtime.sealer,
            name=name,
            label=label,
            body=body,
            algorithm=algorithm,  # type: ignore[arg-type]
            state=state,
            by=Actor.operator(),
        )
        return Provisioned(
            made.client.id, made.key.secret, made.key.id, made.identity.code_09, label
        )


@pytest.fixture
def atlanta(runtime: Runtime) -> Provisioned:
    """The sheet's client, with the sheet's identity 09S-ATLANTASYS-X."""
    return provision(runtime)


@pytest.fixture
def pdf() -> bytes:
    return one_page_pdf()


def sign_body(
    provisioned: Provisioned, pdf: bytes, **overrides: object
) -> dict[str, object]:
    body: dict[str, object] = {
        "code_09": provisioned.code_09,
        "nom_signataire": provisioned.label,
        "motif": "Attestation de garantie n° 2026-04231",
        "pdf_b64": base64.b64encode(pdf).decode(),
    }
    body.update(overrides)
    return body
