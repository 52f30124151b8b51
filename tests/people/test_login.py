"""Logins: password then TOTP, no replay of a step, recovery codes once, the
lock after repeated failures and its e-mail, the per-address limit."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyotp
import pytest

from sceau.people.errors import AccountLocked, LoginRefused, TooManyLoginAttempts
from sceau.people.login import LoggedIn, verify_login
from sceau.runtime import Runtime
from tests.people.conftest import START, Registered, deliver_mail
from tests.people.test_enrolment import PASSWORD, enrol
from tests.support.events import Mailbox

ADDRESS = "198.51.100.7"


def login(
    runtime: Runtime,
    who: str,
    second_factor: str,
    *,
    now: datetime,
    password: str = PASSWORD,
    address: str = ADDRESS,
) -> LoggedIn:
    return verify_login(
        runtime.db,
        runtime.sealer,
        runtime.settings,
        login=who,
        password=password,
        second_factor=second_factor,
        address=address,
        now=now,
    )


def test_login_by_email_or_code_with_a_fresh_totp_code(
    runtime: Runtime, notary: Registered
) -> None:
    secret, _ = enrol(runtime, notary)
    totp = pyotp.TOTP(secret)
    later = START + timedelta(seconds=30)

    by_email = login(runtime, notary.email.upper(), totp.at(later), now=later)
    even_later = later + timedelta(seconds=30)
    by_code = login(runtime, notary.code_09, totp.at(even_later), now=even_later)

    assert by_email.code_09 == by_code.code_09 == notary.code_09


def test_a_totp_step_is_accepted_once(runtime: Runtime, notary: Registered) -> None:
    secret, _ = enrol(runtime, notary)
    later = START + timedelta(seconds=30)
    code = pyotp.TOTP(secret).at(later)
    login(runtime, notary.email, code, now=later)

    with pytest.raises(LoginRefused):
        login(runtime, notary.email, code, now=later + timedelta(seconds=5))


def test_the_enrolment_code_cannot_be_replayed_to_log_in(
    runtime: Runtime, notary: Registered
) -> None:
    secret, _ = enrol(runtime, notary)

    with pytest.raises(LoginRefused):
        login(runtime, notary.email, pyotp.TOTP(secret).at(START), now=START)


def test_a_recovery_code_replaces_totp_once(
    runtime: Runtime, notary: Registered
) -> None:
    _, codes = enrol(runtime, notary)

    made = login(runtime, notary.email, codes[0].lower(), now=START)
    assert made.used_recovery_code
    with pytest.raises(LoginRefused):
        login(runtime, notary.email, codes[0], now=START)


def test_wrong_password_is_refused_even_with_a_good_code(
    runtime: Runtime, notary: Registered
) -> None:
    secret, _ = enrol(runtime, notary)
    later = START + timedelta(seconds=30)

    with pytest.raises(LoginRefused):
        login(
            runtime,
            notary.email,
            pyotp.TOTP(secret).at(later),
            now=later,
            password="pas le bon mot de passe",
        )


def test_five_failures_lock_the_account_and_mail_its_owner(
    runtime: Runtime, notary: Registered, mailbox: Mailbox
) -> None:
    secret, _ = enrol(runtime, notary)
    totp = pyotp.TOTP(secret)
    for attempt in range(4):
        with pytest.raises(LoginRefused):
            login(runtime, notary.email, "000000", now=START, password=f"faux{attempt}")

    with pytest.raises(AccountLocked) as locked:
        login(runtime, notary.email, "000000", now=START, password="faux4")
    assert locked.value.headers == {"Retry-After": "900"}

    # Locked: even the right password and code are refused, until it expires.
    soon = START + timedelta(minutes=14, seconds=30)
    with pytest.raises(AccountLocked):
        login(runtime, notary.email, totp.at(soon), now=soon)
    after = START + timedelta(minutes=15, seconds=30)
    assert login(runtime, notary.email, totp.at(after), now=after).code_09

    deliver_mail(runtime, START)
    lock_mail = [m for m in mailbox.messages if "verrouillé" in str(m["Subject"])]
    assert len(lock_mail) == 1
    assert lock_mail[0]["To"] == notary.email
    plain = lock_mail[0].get_body(("plain",))
    assert plain is not None
    assert "04/12/2026 à 09:15 UTC" in plain.get_content()


def test_one_address_is_limited_across_accounts(
    runtime: Runtime, notary: Registered
) -> None:
    limited = runtime.settings.model_copy(update={"person_address_failure_limit": 3})
    for _ in range(3):
        with pytest.raises(LoginRefused):
            verify_login(
                runtime.db,
                runtime.sealer,
                limited,
                login="inconnu@example.ci",
                password="un mot de passe quelconque",
                second_factor="123456",
                address=ADDRESS,
                now=START,
            )

    with pytest.raises(TooManyLoginAttempts):
        verify_login(
            runtime.db,
            runtime.sealer,
            limited,
            login=notary.email,
            password=PASSWORD,
            second_factor="123456",
            address=ADDRESS,
            now=START + timedelta(minutes=1),
        )
