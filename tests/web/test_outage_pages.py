"""A page met during an outage speaks to a person: a plain French message
(no idempotency key, no billing, which only an API caller has), the API
keeps its own words, and the outage is logged as one line, not a trace on
every hit."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.errors import PAGE_UNAVAILABLE, DatabaseUnavailable
from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.support.servers import free_port


@pytest.fixture
def database_away(data_dir: Path) -> Iterator[TestClient]:
    """The service on a PostgreSQL nobody listens for: every query fails to
    connect, as while the database is down."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    runtime = Runtime(Settings(data_dir=data_dir, database_url=url, log_format="text"))
    try:
        yield TestClient(create_app(runtime.settings, runtime))
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("path", "cookie", "logged"),
    [
        ("/signer", "sceau_session", "web.error_page_without_session"),
        ("/console", "sceau_console", "console.error_page_without_session"),
    ],
)
def test_a_page_during_a_database_outage_says_it_plainly(
    database_away: TestClient,
    caplog: pytest.LogCaptureFixture,
    path: str,
    cookie: str,
    logged: str,
) -> None:
    database_away.cookies.set(cookie, "une-session-quelconque")
    with caplog.at_level(logging.WARNING):
        page = database_away.get(path)

    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "5"
    assert PAGE_UNAVAILABLE.replace("'", "&#39;") in page.text
    assert "idempotence" not in page.text
    assert "facturation" not in page.text
    [record] = [r for r in caplog.records if r.msg == logged]
    assert not record.exc_info


def test_the_api_keeps_its_wording_during_a_database_outage(
    database_away: TestClient,
) -> None:
    answer = database_away.get(
        "/api/v1/sceau/b2b/signatures/SIG-INCONNUE",
        headers={"X-Api-Key": "pk_inconnue"},
    )

    assert answer.status_code == 503
    assert answer.json()["erreur"] == {
        "code": "base_indisponible",
        "message": DatabaseUnavailable.message,
    }
    assert answer.headers["retry-after"] == "5"
