"""The password policy and the Argon2id parameters."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters

from sceau.people.errors import WeakPassword
from sceau.people.passwords import PasswordKeeper, check_password_policy
from sceau.settings import Settings


@pytest.mark.parametrize(
    "password",
    ["court", "qwerty123456", "Password2026!!", "aaaaaaaaaaaaaaaa", "1qaz2wsx3edc"],
)
def test_policy_refuses_short_common_or_repetitive(password: str) -> None:
    with pytest.raises(WeakPassword):
        check_password_policy(password, min_length=12)


def test_policy_accepts_a_passphrase() -> None:
    check_password_policy("le fleuve Comoé coule vers la mer", min_length=12)


def test_default_hash_meets_owasp_minimum() -> None:
    keeper = PasswordKeeper.of(Settings())
    parameters = extract_parameters(keeper.hash("le fleuve Comoé coule"))

    assert parameters.type.name == "ID"
    assert parameters.memory_cost >= 19 * 1024
    assert parameters.time_cost >= 2
    assert parameters.parallelism >= 1
