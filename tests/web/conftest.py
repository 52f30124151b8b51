"""Fixtures for the web signer's pages: the people fixtures (a runtime whose
e-mails reach a real SMTP server, a registered notary), a TestClient over
https with the pages' clock frozen, and helpers that fill the forms."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.runtime import Runtime
from tests.people.conftest import START, Registered, mailbox, notary, runtime
from tests.people.test_enrolment import PASSWORD

__all__ = ["mailbox", "notary", "runtime"]

BASE_URL = "https://sceau.example.ci"
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
def clock() -> FrozenClock:
    return FrozenClock(START)


def browser(runtime: Runtime, clock: FrozenClock) -> TestClient:
    app = create_app(runtime.settings, runtime)
    app.state.web_clock = clock.now
    return TestClient(app, base_url=BASE_URL, follow_redirects=False)


@pytest.fixture
def site(runtime: Runtime, clock: FrozenClock) -> Iterator[TestClient]:
    """One browser: its own cookie jar, over https as in production."""
    with browser(runtime, clock) as client:
        yield client


def shown(page: httpx.Response) -> str:
    """The page's text as a reader sees it (entities decoded)."""
    return html.unescape(page.text)


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


@dataclass
class Account:
    """An enrolled person and the TOTP steps the tests have used."""

    who: Registered
    secret: str
    recovery_codes: list[str]

    def code_at(self, moment: datetime) -> str:
        return pyotp.TOTP(self.secret).at(moment)


def enrol_in_page(site: TestClient, who: Registered, clock: FrozenClock) -> Account:
    page = site.get(f"/signer/inscription/{who.token}")
    assert page.status_code == 200, page.text
    found = _SECRET.search(page.text)
    assert found
    secret = found.group(1).replace(" ", "")
    done = site.post(
        f"/signer/inscription/{who.token}",
        data={
            "csrf": csrf_of(page),
            "mot_de_passe": PASSWORD,
            "mot_de_passe_confirmation": PASSWORD,
            "code": pyotp.TOTP(secret).at(clock.now()),
        },
    )
    assert done.status_code == 200, done.text
    codes = re.findall(r"<code>([A-Z0-9]{5}-[A-Z0-9]{5})</code>", done.text)
    return Account(who, secret, codes)


def log_in(
    site: TestClient,
    account: Account,
    clock: FrozenClock,
    *,
    code: str | None = None,
    password: str = PASSWORD,
) -> httpx.Response:
    """Submit the login form; by default with the code of the next 30-second
    step, the clock moved there (a step is accepted once)."""
    if code is None:
        clock.advance(seconds=30)
        code = account.code_at(clock.now())
    page = site.get("/signer/connexion")
    return site.post(
        "/signer/connexion",
        data={
            "csrf": csrf_of(page),
            "identifiant": account.who.email,
            "mot_de_passe": password,
            "code": code,
        },
    )


@pytest.fixture
def enrolled(site: TestClient, notary: Registered, clock: FrozenClock) -> Account:
    return enrol_in_page(site, notary, clock)


@pytest.fixture
def logged_in(site: TestClient, enrolled: Account, clock: FrozenClock) -> Account:
    answer = log_in(site, enrolled, clock)
    assert answer.status_code == 303, answer.text
    return enrolled
