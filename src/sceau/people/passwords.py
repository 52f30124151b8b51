"""Passwords: the policy a new one must meet, and Argon2id to keep it.

The common passwords are the 30,000 most frequent of leaked password sets, as
the ``zxcvbn`` package (a dependency) ships them. A password is refused when
it is one of them, or one of them followed by digits and marks
(``password2026!``), whatever its case.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from sceau.people.errors import WeakPassword
from sceau.settings import Settings

MAX_LENGTH = 256
MIN_DISTINCT_CHARACTERS = 5


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.strip().lower() for p in FREQUENCY_LISTS["passwords"] if p)


def normalise_password(password: str) -> str:
    """NFC, so that the same password typed on two keyboards is one password."""
    return unicodedata.normalize("NFC", password)


def check_password_policy(password: str, *, min_length: int) -> None:
    """Refuse, in French, a password that is short, common or repetitive."""
    password = normalise_password(password)
    if len(password) < min_length:
        raise WeakPassword(
            f"Le mot de passe doit compter au moins {min_length} caractères ; une "
            "phrase de quelques mots est plus facile à retenir."
        )
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Le mot de passe ne peut dépasser {MAX_LENGTH} caractères.")
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        raise WeakPassword(
            "Le mot de passe répète trop peu de caractères différents : choisissez-en "
            "un plus varié."
        )

    lowered = password.lower()
    stem = lowered.rstrip("0123456789!?.*#@$%&_- ")
    common = common_passwords()
    if lowered in common or stem in common:
        raise WeakPassword(
            "Ce mot de passe figure parmi les plus courants : choisissez-en un autre."
        )


@dataclass(frozen=True)
class PasswordKeeper:
    """Argon2id with the configured cost; knows when a stored hash is older."""

    hasher: PasswordHasher

    @classmethod
    def of(cls, settings: Settings) -> PasswordKeeper:
        return cls.of_parameters(
            settings.person_argon2_time_cost,
            settings.person_argon2_memory_kib,
            settings.person_argon2_parallelism,
        )

    @classmethod
    def of_parameters(
        cls, time_cost: int, memory_cost: int, parallelism: int
    ) -> PasswordKeeper:
        return cls(
            PasswordHasher(
                time_cost=time_cost,
                memory_cost=memory_cost,
                parallelism=parallelism,
                type=Type.ID,
            )
        )

    def hash(self, password: str) -> str:
        return self.hasher.hash(normalise_password(password))

    def matches(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, normalise_password(password))
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)
