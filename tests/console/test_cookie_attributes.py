"""The console's cookies, as a real login sets them: HttpOnly, SameSite
Lax, Secure over https, and scoped to ``/console`` (never sent to the
signer's pages nor to the API)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sceau.ops.security_headers import STRICT_TRANSPORT_SECURITY
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.console.conftest import FrozenClock, enrol, log_in, new_user
from tests.web.test_cookie_attributes import assert_protected, cookie_attributes


def test_login_sets_the_console_cookie_protected_and_scoped(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> None:
    email = "admin@atlanta.example.ci"
    link = new_user(
        runtime, email=email, role="administrateur", client_id=atlanta.client_id
    )
    account = enrol(site, link, email, clock)
    # A new visitor: the enrolment set a visitor cookie already.
    site.cookies.clear()
    first = site.get("/console/connexion")
    answer = log_in(site, account, clock)
    home = site.get(answer.headers["location"], follow_redirects=True)

    assert answer.status_code == 303
    assert_protected(cookie_attributes(first)["sceau_visiteur"], "/console")
    assert_protected(cookie_attributes(answer)["sceau_console"], "/console")
    assert home.status_code == 200
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    assert home.headers["strict-transport-security"] == STRICT_TRANSPORT_SECURITY
