"""Fixtures for the console: a runtime with the cheapest Argon2id cost, two
clients (Atlanta and Bêta), a TestClient over https with the pages' clock
frozen, and helpers that create a console user, enrol them through the
enrolment page and log them in with a real TOTP code."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.audit.actors import Actor
from sceau.clients.certificates import issue_pkcs12
from sceau.clients.service import create_client
from sceau.console.users import create_user
from sceau.runtime import Runtime
from tests.conftest import Provisioned, provision
from tests.support.events import event_settings

BASE_URL = "https://sceau.example.ci"
PASSWORD = "une phrase de passe assez longue"
# Mid-step of a 30-second TOTP window, so that small moves stay in one step.
START = datetime(2026, 12, 4, 9, 0, 15, tzinfo=UTC)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_SECRET = re.compile(r'<p class="secret" id="secret">([A-Z2-7 ]+)</p>')


class FrozenClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)


@pytest.fixture
def runtime(data_dir: Path, database_url: str) -> Iterator[Runtime]:
    settings = event_settings(
        data_dir,
        database_url,
        public_base_url=BASE_URL,
        person_argon2_memory_kib=19456,
        person_argon2_time_cost=2,
    )
    made = Runtime(settings)
    made.prepare()
    yield made
    made.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def browser(runtime: Runtime, clock: FrozenClock) -> TestClient:
    app = create_app(runtime.settings, runtime)
    app.state.web_clock = clock.now
    return TestClient(app, base_url=BASE_URL, follow_redirects=False)


@pytest.fixture
def site(runtime: Runtime, clock: FrozenClock) -> Iterator[TestClient]:
    with browser(runtime, clock) as client:
        yield client


@pytest.fixture
def beta(runtime: Runtime) -> Provisioned:
    return provision(
        runtime, name="Bêta Finance", label="Bêta Finance – système", body="BETAFINSYS"
    )


def shown(page: httpx.Response) -> str:
    """The page's text as a reader sees it (entities decoded)."""
    return html.unescape(page.text)


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


@dataclass
class ConsoleAccount:
    email: str
    secret: str
    link: str

    def code_at(self, moment: datetime) -> str:
        return pyotp.TOTP(self.secret).at(moment)


def new_user(
    runtime: Runtime,
    *,
    email: str,
    role: str,
    client_id: str | None,
    name: str = "Awa Traoré",
) -> str:
    """The user's enrolment link."""
    with runtime.db.transaction() as session:
        made = create_user(
            session,
            runtime.settings,
            email=email,
            name=name,
            role=role,
            client_id=client_id,
            now=START,
            by=Actor.operator(),
        )
        return made.link


def enrol(
    site: TestClient, link: str, email: str, clock: FrozenClock
) -> ConsoleAccount:
    path = link.removeprefix(BASE_URL)
    page = site.get(path)
    assert page.status_code == 200, page.text
    found = _SECRET.search(page.text)
    assert found
    secret = found.group(1).replace(" ", "")
    done = site.post(
        path,
        data={
            "csrf": csrf_of(page),
            "mot_de_passe": PASSWORD,
            "mot_de_passe_confirmation": PASSWORD,
            "code": pyotp.TOTP(secret).at(clock.now()),
        },
    )
    assert done.status_code == 200, done.text
    return ConsoleAccount(email, secret, link)


def log_in(
    site: TestClient,
    account: ConsoleAccount,
    clock: FrozenClock,
    *,
    code: str | None = None,
    password: str = PASSWORD,
) -> httpx.Response:
    """The login form, by default with the next step's code (clock moved)."""
    if code is None:
        clock.advance(seconds=30)
        code = account.code_at(clock.now())
    page = site.get("/console/connexion")
    return site.post(
        "/console/connexion",
        data={
            "csrf": csrf_of(page),
            "email": account.email,
            "mot_de_passe": password,
            "code": code,
        },
    )


# A service agreement as the operator types it into the client's cycle page.
AGREEMENT = {
    "modes": ["systeme"],
    "niveau": "A",
    "matrice_autorite": False,
    "formule": "forfait",
    "canal": "webhook",
}


def new_gamma(runtime: Runtime) -> str:
    """A client the operator just created (Gamma Courtage, at its first
    step): its id."""
    with runtime.db.transaction() as session:
        return create_client(
            session, "Gamma Courtage", "forfait", by=Actor.operator()
        ).id


def issued_certificate(runtime: Runtime, client_id: str) -> str:
    """A client certificate the operator issued to ``client_id``: its
    fingerprint."""
    with runtime.db.transaction() as session:
        issued, _ = issue_pkcs12(
            session,
            runtime.access_ca,
            client_id,
            "une phrase assez longue",
            by=Actor.operator(),
        )
        return issued.record.fingerprint


def signed_in_as(
    site: TestClient,
    runtime: Runtime,
    clock: FrozenClock,
    *,
    email: str,
    role: str,
    client_id: str | None,
) -> ConsoleAccount:
    link = new_user(runtime, email=email, role=role, client_id=client_id)
    account = enrol(site, link, email, clock)
    answer = log_in(site, account, clock)
    assert answer.status_code == 303, answer.text
    return account


@pytest.fixture
def operator(site: TestClient, runtime: Runtime, clock: FrozenClock) -> ConsoleAccount:
    """The service's operator (no client), logged in on ``site``."""
    return signed_in_as(
        site,
        runtime,
        clock,
        email="operateur@pixel.example.ci",
        role="operateur",
        client_id=None,
    )


@pytest.fixture
def admin(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> ConsoleAccount:
    """Atlanta's administrator, logged in on ``site``."""
    return signed_in_as(
        site,
        runtime,
        clock,
        email="admin@atlanta.example.ci",
        role="administrateur",
        client_id=atlanta.client_id,
    )
