"""The web signer's cookies, as a real login sets them: HttpOnly, SameSite
Lax, Secure over https, and scoped to the signer's pages; the page behind
the login carries the security headers and HSTS."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from sceau.ops.security_headers import STRICT_TRANSPORT_SECURITY
from tests.web.conftest import Account, FrozenClock, csrf_of, log_in


def cookie_attributes(answer: httpx.Response) -> dict[str, set[str]]:
    """Each cookie the answer sets, by name, with its attributes (lower case)."""
    found = {}
    for line in answer.headers.get_list("set-cookie"):
        name, *attributes = (part.strip() for part in line.split(";"))
        found[name.split("=")[0]] = {a.lower() for a in attributes}
    return found


def assert_protected(attributes: set[str], path: str) -> None:
    assert "httponly" in attributes
    assert "secure" in attributes
    assert "samesite=lax" in attributes
    assert f"path={path}" in attributes


def test_login_sets_the_session_cookie_protected_and_scoped(
    site: TestClient, enrolled: Account, clock: FrozenClock
) -> None:
    # A new visitor: the enrolment set a visitor cookie already.
    site.cookies.clear()
    first = site.get("/signer/connexion")
    answer = log_in(site, enrolled, clock)

    assert answer.status_code == 303
    assert_protected(cookie_attributes(first)["sceau_visiteur"], "/signer")
    assert_protected(cookie_attributes(answer)["sceau_session"], "/signer")


def test_the_page_behind_the_login_carries_the_headers(
    site: TestClient, logged_in: Account
) -> None:
    home = site.get("/signer")

    assert home.status_code == 200
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    assert home.headers["x-frame-options"] == "DENY"
    assert home.headers["strict-transport-security"] == STRICT_TRANSPORT_SECURITY


def test_logout_clears_the_session_cookie_with_the_same_attributes(
    site: TestClient, logged_in: Account
) -> None:
    home = site.get("/signer")
    out = site.post("/signer/deconnexion", data={"csrf": csrf_of(home)})

    attributes = cookie_attributes(out)["sceau_session"]
    assert_protected(attributes, "/signer")
    assert "max-age=0" in attributes
