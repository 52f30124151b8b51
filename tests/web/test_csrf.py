"""Every POST of the pages carries a CSRF token bound to the session (or,
before login, to the visitor cookie); without it, or with another's, the
answer is a French 403 page and nothing happens."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sceau.runtime import Runtime
from sceau.web.models import WebSession
from sceau.web.pages import VISITOR_COOKIE
from tests.conftest import Provisioned
from tests.people.conftest import register
from tests.web.conftest import (
    Account,
    FrozenClock,
    browser,
    csrf_of,
    enrol_in_page,
    log_in,
    shown,
)


def _refused(answer: object) -> None:
    assert answer.status_code == 403  # type: ignore[attr-defined]
    assert answer.headers["content-type"].startswith("text/html")  # type: ignore[attr-defined]
    assert "Ce formulaire a expiré ou ne provient pas de cette page" in shown(
        answer  # type: ignore[arg-type]
    )


def test_a_login_without_a_token_is_refused(
    site: TestClient, enrolled: Account
) -> None:
    site.get("/signer/connexion")

    _refused(
        site.post(
            "/signer/connexion",
            data={"identifiant": enrolled.who.email, "mot_de_passe": "x", "code": "1"},
        )
    )


def test_a_login_with_another_visitors_token_is_refused(
    site: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    with browser(runtime, clock) as other:
        foreign = csrf_of(other.get("/signer/connexion"))
    site.get("/signer/connexion")

    _refused(
        site.post(
            "/signer/connexion",
            data={"csrf": foreign, "identifiant": "a@b.ci", "mot_de_passe": "x"},
        )
    )


def test_a_login_without_the_visitor_cookie_is_refused(site: TestClient) -> None:
    token = csrf_of(site.get("/signer/connexion"))
    site.cookies.delete(VISITOR_COOKIE)

    answer = site.post("/signer/connexion", data={"csrf": token})

    assert answer.status_code == 403
    assert "autorisez les cookies" in shown(answer)


def test_an_enrolment_without_a_token_is_refused(
    site: TestClient, notary: object
) -> None:
    token = notary.token  # type: ignore[attr-defined]
    site.get(f"/signer/inscription/{token}")

    _refused(site.post(f"/signer/inscription/{token}", data={"code": "123456"}))


def test_a_logout_without_the_sessions_token_is_refused(
    site: TestClient, runtime: Runtime, logged_in: Account
) -> None:
    _refused(site.post("/signer/deconnexion", data={"csrf": "faux"}))

    with runtime.db.sessions() as session:
        assert session.query(WebSession).count() == 1


def test_a_session_form_with_another_sessions_token_is_refused(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    with browser(runtime, clock) as other:
        colleague = enrol_in_page(
            other, register(runtime, atlanta, email="b.traore@example.ci"), clock
        )
        assert log_in(other, colleague, clock).status_code == 303
        foreign = csrf_of(other.get("/signer"))

    answer = site.post(
        "/signer/nouveau",
        data={"csrf": foreign, "motif": "Essai"},
        files={"fichier": ("a.pdf", b"%PDF-1.7", "application/pdf")},
    )

    _refused(answer)
