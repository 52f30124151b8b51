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
    assert (parameters.memory_cost, parameters.time_cost) == (46 * 1024, 1)
    assert parameters.parallelism >= 1


@pytest.mark.parametrize(
    ("memory_kib", "passes"), [(47103, 1), (19456, 1), (12288, 2), (7168, 4)]
)
def test_settings_refuse_argon2_below_owasp(memory_kib: int, passes: int) -> None:
    with pytest.raises(ValueError, match="OWASP"):
        Settings(person_argon2_memory_kib=memory_kib, person_argon2_time_cost=passes)


@pytest.mark.parametrize(("memory_kib", "passes"), [(19456, 2), (9216, 4), (7168, 5)])
def test_settings_accept_owasp_equivalents(memory_kib: int, passes: int) -> None:
    settings = Settings(
        person_argon2_memory_kib=memory_kib, person_argon2_time_cost=passes
    )

    assert settings.person_argon2_memory_kib == memory_kib
