"""Login in the page: the session cookie and its flags, refusals with the
login's French messages, the lock, the per-address limit, logout, timeouts,
and the operator's reset ending the sessions."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from sceau.audit.actors import Actor
from sceau.people.service import reset_person
from sceau.runtime import Runtime
from sceau.web.models import WebSession
from sceau.web.pages import SESSION_COOKIE
from tests.web.conftest import Account, FrozenClock, csrf_of, log_in, shown


def _session_rows(runtime: Runtime) -> list[WebSession]:
    with runtime.db.sessions() as session:
        return list(session.query(WebSession))


def test_login_opens_a_session_with_a_strict_cookie(
    site: TestClient, runtime: Runtime, enrolled: Account, clock: FrozenClock
) -> None:
    answer = log_in(site, enrolled, clock)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/signer"
    cookie = next(
        c
        for c in answer.headers.get_list("set-cookie")
        if c.startswith(SESSION_COOKIE + "=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "path=/signer", "samesite=lax"} <= flags
    token = cookie.split(";")[0].split("=", 1)[1]
    [row] = _session_rows(runtime)
    assert token not in row.token_hash
    home = site.get("/signer")
    assert home.status_code == 200
    assert "Maître Aminata Koné" in shown(home)
    assert home.headers["cache-control"] == "no-store"


def test_a_wrong_password_is_refused_with_one_message(
    site: TestClient, enrolled: Account, clock: FrozenClock
) -> None:
    answer = log_in(site, enrolled, clock, password="pas le bon mot de passe")

    assert answer.status_code == 401
    assert "Identifiant, mot de passe ou code incorrect." in shown(answer)
    assert enrolled.who.email in answer.text  # the identifier stays filled in
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_the_enrolment_code_replayed_at_login_is_refused(
    site: TestClient, enrolled: Account, clock: FrozenClock
) -> None:
    answer = log_in(site, enrolled, clock, code=enrolled.code_at(clock.now()))

    assert answer.status_code == 401
    assert "Identifiant, mot de passe ou code incorrect." in shown(answer)


def test_repeated_wrong_codes_lock_the_account(
    site: TestClient, runtime: Runtime, enrolled: Account, clock: FrozenClock
) -> None:
    limit = runtime.settings.person_lock_after_failures
    answers = [log_in(site, enrolled, clock, code="000000") for _ in range(limit)]

    assert [a.status_code for a in answers] == [401] * (limit - 1) + [429]
    locked = answers[-1]
    assert "le compte est verrouillé" in shown(locked)
    assert int(locked.headers["retry-after"]) > 0
    right = log_in(site, enrolled, clock)
    assert right.status_code == 429


def test_too_many_failures_from_one_address_are_refused_with_retry_after(
    site: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    page = site.get("/signer/connexion")
    token = csrf_of(page)
    statuses = []
    for number in range(runtime.settings.person_address_failure_limit + 1):
        statuses.append(
            site.post(
                "/signer/connexion",
                data={
                    "csrf": token,
                    "identifiant": f"inconnu{number}@example.ci",
                    "mot_de_passe": "x",
                    "code": "123456",
                },
            )
        )

    last = statuses[-1]
    assert last.status_code == 429
    assert "Trop de tentatives de connexion depuis cette adresse" in shown(last)
    assert int(last.headers["retry-after"]) > 0


def test_a_recovery_code_logs_in_and_the_home_page_says_so(
    site: TestClient, enrolled: Account, clock: FrozenClock
) -> None:
    answer = log_in(site, enrolled, clock, code=enrolled.recovery_codes[0])

    assert answer.status_code == 303
    home = site.get(answer.headers["location"])
    assert "code de secours" in shown(home)


def test_logout_deletes_the_session(
    site: TestClient, runtime: Runtime, logged_in: Account
) -> None:
    home = site.get("/signer")

    answer = site.post("/signer/deconnexion", data={"csrf": csrf_of(home)})

    assert answer.status_code == 303
    assert answer.headers["location"] == "/signer/connexion"
    assert _session_rows(runtime) == []
    assert site.get("/signer").headers["location"] == "/signer/connexion"


def test_an_idle_session_ends(
    site: TestClient, runtime: Runtime, logged_in: Account, clock: FrozenClock
) -> None:
    idle = runtime.settings.web_session_idle_minutes
    clock.advance(minutes=idle - 1)
    assert site.get("/signer").status_code == 200

    clock.advance(minutes=idle, seconds=1)
    answer = site.get("/signer")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/signer/connexion"
    assert _session_rows(runtime) == []


def test_a_busy_session_still_ends_at_its_absolute_lifetime(
    site: TestClient, runtime: Runtime, logged_in: Account, clock: FrozenClock
) -> None:
    step = timedelta(minutes=runtime.settings.web_session_idle_minutes - 1)
    lifetime = timedelta(hours=runtime.settings.web_session_absolute_hours)
    elapsed = timedelta(0)
    while elapsed + step < lifetime:
        clock.advance(seconds=step.total_seconds())
        elapsed += step
        assert site.get("/signer").status_code == 200

    clock.advance(seconds=(lifetime - elapsed).total_seconds())

    assert site.get("/signer").status_code == 303


def test_an_operator_reset_ends_the_sessions(
    site: TestClient, runtime: Runtime, logged_in: Account
) -> None:
    with runtime.db.transaction() as session:
        reset_person(
            session, runtime.settings, logged_in.who.code_09, by=Actor.operator()
        )

    assert _session_rows(runtime) == []
    assert site.get("/signer").status_code == 303


def test_the_login_page_sends_a_logged_in_person_home(
    site: TestClient, logged_in: Account
) -> None:
    answer = site.get("/signer/connexion")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/signer"


def test_pages_of_the_signer_need_a_session(site: TestClient) -> None:
    for path, login in (
        ("/signer", "/signer/connexion"),
        ("/signer/nouveau", "/signer/connexion?suivant=%2Fsigner%2Fnouveau"),
        (
            "/signer/signatures/SIG-X",
            "/signer/connexion?suivant=%2Fsigner%2Fsignatures%2FSIG-X",
        ),
    ):
        answer = site.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == login
