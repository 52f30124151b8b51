"""Logging in to the console: password and TOTP, the cookie, replays,
lockout, timeouts, CSRF, and errors drawn as French pages."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.console.conftest import (
    ConsoleAccount,
    FrozenClock,
    csrf_of,
    enrol,
    log_in,
    new_user,
    shown,
)


def _account(
    site: TestClient, runtime: Runtime, clock: FrozenClock, client: Provisioned
) -> ConsoleAccount:
    link = new_user(
        runtime,
        email="lecture@atlanta.example.ci",
        role="lecteur",
        client_id=client.client_id,
    )
    return enrol(site, link, "lecture@atlanta.example.ci", clock)


def test_login_with_totp_sets_a_console_cookie(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> None:
    account = _account(site, runtime, clock, atlanta)

    answer = log_in(site, account, clock)

    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("sceau_console=")
    assert "Path=/console" in cookie
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    home = site.get(answer.headers["location"], follow_redirects=True)
    assert home.status_code == 200
    assert "Atlanta Assurances" in shown(home)
    assert home.headers["cache-control"] == "no-store"
    assert "script-src 'none'" in home.headers["content-security-policy"]


def test_login_refuses_a_wrong_code_and_a_replayed_one(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> None:
    account = _account(site, runtime, clock, atlanta)

    wrong = log_in(site, account, clock, code="000000")
    assert wrong.status_code == 401
    assert "Identifiant, mot de passe ou code incorrect." in shown(wrong)

    assert log_in(site, account, clock).status_code == 303
    site.cookies.clear()
    again = log_in(site, account, clock, code=account.code_at(clock.now()))
    assert again.status_code == 422
    assert "Ce code a déjà servi" in shown(again)


def test_login_locks_the_account_after_repeated_failures(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> None:
    account = _account(site, runtime, clock, atlanta)
    limit = runtime.settings.person_lock_after_failures

    answers = [
        log_in(site, account, clock, password="pas le bon mot de passe")
        for _ in range(limit)
    ]

    assert [a.status_code for a in answers[:-1]] == [401] * (limit - 1)
    assert answers[-1].status_code == 429
    locked = log_in(site, account, clock)
    assert locked.status_code == 429
    assert "le compte est verrouillé" in shown(locked)
    assert "retry-after" in locked.headers


def test_session_ends_after_idle_and_absolute_timeouts(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> None:
    account = _account(site, runtime, clock, atlanta)
    assert log_in(site, account, clock).status_code == 303
    page = f"/console/clients/{atlanta.client_id}"
    idle = runtime.settings.web_session_idle_minutes

    clock.advance(minutes=idle - 1)
    assert site.get(page).status_code == 200
    clock.advance(minutes=idle + 1)
    ended = site.get(page)
    assert ended.status_code == 303
    assert ended.headers["location"] == "/console/connexion"

    assert log_in(site, account, clock).status_code == 303
    logged_in_at = clock.now()
    lifetime = timedelta(hours=runtime.settings.web_session_absolute_hours)
    while clock.now() + timedelta(minutes=idle - 1) < logged_in_at + lifetime:
        clock.advance(minutes=idle - 1)
        assert site.get(page).status_code == 200
    clock.advance(minutes=idle - 1)
    assert site.get(page).status_code == 303


def test_logout_ends_the_session(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> None:
    account = _account(site, runtime, clock, atlanta)
    assert log_in(site, account, clock).status_code == 303
    page = site.get(f"/console/clients/{atlanta.client_id}")

    out = site.post("/console/deconnexion", data={"csrf": csrf_of(page)})

    assert out.status_code == 303
    assert site.get(f"/console/clients/{atlanta.client_id}").status_code == 303


def test_forms_without_a_csrf_token_are_refused(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> None:
    account = _account(site, runtime, clock, atlanta)
    site.get("/console/connexion")

    refused = site.post(
        "/console/connexion",
        data={"email": account.email, "mot_de_passe": "x", "code": "1"},
    )

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "Ce formulaire a expiré" in shown(refused)


def test_errors_under_console_are_french_pages(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> None:
    account = _account(site, runtime, clock, atlanta)
    assert log_in(site, account, clock).status_code == 303

    missing = site.get("/console/nulle-part")
    wrong_method = site.delete("/console/connexion")
    bad_link = site.get("/console/inscription/inconnu")

    assert missing.status_code == 404
    assert "Page introuvable" in shown(missing)
    assert wrong_method.status_code == 405
    assert bad_link.status_code == 410
    assert "lien d'inscription à la console" in shown(bad_link)
    for answer in (missing, wrong_method, bad_link):
        assert answer.headers["content-type"].startswith("text/html")
        assert '<html lang="fr">' in answer.text


def test_pages_need_a_session(site: TestClient, atlanta: Provisioned) -> None:
    answer = site.get(f"/console/clients/{atlanta.client_id}/cles")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/connexion"
