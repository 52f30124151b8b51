"""Shared fixtures: a data directory with the service's PKI, a runtime on
SQLite and on the local PostgreSQL, a provisioned client, sample PDFs."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from sceau.app import create_app
from sceau.clients.provisioning import provision_system_client
from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.support.pdfs import one_page_pdf

POSTGRES_ADMIN_URL = os.environ.get(
    "SCEAU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
LABEL = "Atlanta Assurances – système de production"


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
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(POSTGRES_ADMIN_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


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
