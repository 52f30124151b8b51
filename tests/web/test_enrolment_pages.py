"""Enrolment in the page: from the e-mailed link, the QR code and the secret,
the password twice and a first code, then the recovery codes shown once."""

from __future__ import annotations

import re

import pyotp
from fastapi.testclient import TestClient

from sceau.people.models import Person
from sceau.runtime import Runtime
from tests.people.conftest import START, Registered, deliver_mail
from tests.people.test_enrolment import PASSWORD
from tests.support.events import Mailbox
from tests.web.conftest import FrozenClock, csrf_of, enrol_in_page, shown


def test_the_mailed_link_opens_the_enrolment_page_with_qr_and_secret(
    site: TestClient, runtime: Runtime, notary: Registered, mailbox: Mailbox
) -> None:
    deliver_mail(runtime, START)
    text = mailbox.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https://\S+/signer/inscription/\S+", text)
    assert link

    page = site.get(link.group(0))

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and "Code QR" in page.text
    assert notary.code_09 in page.text
    assert 'id="secret"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"


def test_enrolment_shows_ten_recovery_codes_once_then_points_to_login(
    site: TestClient, runtime: Runtime, notary: Registered, clock: FrozenClock
) -> None:
    account = enrol_in_page(site, notary, clock)

    assert len(account.recovery_codes) == 10
    with runtime.db.sessions() as session:
        assert session.get_one(Person, notary.person_id).enrolled
    again = site.get(f"/signer/inscription/{notary.token}")
    assert again.status_code == 410
    assert "Ce lien d'inscription n'est pas (ou plus) valable" in shown(again)
    assert again.headers["content-type"].startswith("text/html")


def test_different_passwords_are_refused_in_the_page(
    site: TestClient, notary: Registered, clock: FrozenClock
) -> None:
    page = site.get(f"/signer/inscription/{notary.token}")
    secret = re.search(r'id="secret">([A-Z2-7 ]+)<', page.text).group(1)  # type: ignore[union-attr]

    answer = site.post(
        f"/signer/inscription/{notary.token}",
        data={
            "csrf": csrf_of(page),
            "mot_de_passe": PASSWORD,
            "mot_de_passe_confirmation": PASSWORD + "!",
            "code": pyotp.TOTP(secret.replace(" ", "")).at(clock.now()),
        },
    )

    assert answer.status_code == 422
    assert "Les deux mots de passe saisis ne sont pas identiques." in shown(answer)
    assert 'role="alert"' in answer.text
    assert secret in answer.text  # the same secret, the form still there


def test_a_wrong_first_code_is_refused_in_the_page(
    site: TestClient, notary: Registered
) -> None:
    page = site.get(f"/signer/inscription/{notary.token}")

    answer = site.post(
        f"/signer/inscription/{notary.token}",
        data={
            "csrf": csrf_of(page),
            "mot_de_passe": PASSWORD,
            "mot_de_passe_confirmation": PASSWORD,
            "code": "000000",
        },
    )

    assert answer.status_code == 422
    assert "Ce code ne correspond pas" in shown(answer)


def test_a_weak_password_is_refused_in_the_page(
    site: TestClient, notary: Registered, clock: FrozenClock
) -> None:
    page = site.get(f"/signer/inscription/{notary.token}")

    answer = site.post(
        f"/signer/inscription/{notary.token}",
        data={
            "csrf": csrf_of(page),
            "mot_de_passe": "motdepasse",
            "mot_de_passe_confirmation": "motdepasse",
            "code": "123456",
        },
    )

    assert answer.status_code == 422
    assert "mot de passe" in shown(answer).lower()


def test_an_unknown_link_is_a_410_page(site: TestClient) -> None:
    answer = site.get("/signer/inscription/inconnu")

    assert answer.status_code == 410
    assert '<html lang="fr">' in shown(answer)
    assert "Lien expiré" in shown(answer)
