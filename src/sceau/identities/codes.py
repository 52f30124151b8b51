"""Pixel identifiers: ``09S-<body>-<check>`` (a system) and ``09-<body>-<check>``
(a person).

The check character is ISO/IEC 7064 MOD 37,36 (the hybrid system over the 36
alphanumeric characters) computed over the body: ``09S-ATLANTASYS-X``, the
sheet's own example, is well formed. It catches every single-character error
and almost every transposition of two adjacent characters (measured: about
998 in 1000; the hybrid system does not promise them all), so a mistyped code
is refused before any lookup.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MODULUS = 36
SYSTEM_PREFIX = "09S"
PERSON_PREFIX = "09"
BODY_MIN, BODY_MAX = 4, 16
# Generated bodies avoid characters that read alike (0/O, 1/I/L).
GENERATED_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
GENERATED_LENGTH = 8

_CODE = re.compile(r"^(09S|09)-([0-9A-Z]{4,16})-([0-9A-Z])$")
_BODY = re.compile(r"^[0-9A-Z]{4,16}$")


class InvalidCode(ValueError):
    """The text is not a well-formed Pixel identifier; the reason is in French."""


@dataclass(frozen=True)
class Code09:
    prefix: str
    body: str
    check: str

    def __str__(self) -> str:
        return f"{self.prefix}-{self.body}-{self.check}"

    @property
    def is_system(self) -> bool:
        return self.prefix == SYSTEM_PREFIX


def check_character(payload: str) -> str:
    """The MOD 37,36 check character of ``payload`` (characters of ALPHABET)."""
    product = MODULUS
    for char in payload:
        total = (product + ALPHABET.index(char)) % MODULUS or MODULUS
        product = (total * 2) % (MODULUS + 1)
    return ALPHABET[(MODULUS + 1 - product) % MODULUS]


def is_valid_payload(payload_with_check: str) -> bool:
    """True when the last character is the right check for the others."""
    product = MODULUS
    for char in payload_with_check[:-1]:
        total = (product + ALPHABET.index(char)) % MODULUS or MODULUS
        product = (total * 2) % (MODULUS + 1)
    return (product + ALPHABET.index(payload_with_check[-1])) % MODULUS == 1


def make_code(prefix: str, body: str) -> Code09:
    body = body.strip().upper()
    if not _BODY.match(body):
        raise InvalidCode(
            f"Le corps d'un identifiant compte de {BODY_MIN} à {BODY_MAX} lettres "
            "majuscules ou chiffres."
        )
    return Code09(prefix, body, check_character(body))


def generate_body() -> str:
    return "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(GENERATED_LENGTH))


def parse_code(text: str) -> Code09:
    """Parse and check an identifier, or say in French what is wrong with it."""
    match = _CODE.match(text.strip())
    if match is None:
        raise InvalidCode(
            "L'identifiant doit avoir la forme 09S-<corps>-<contrôle> (système) ou "
            "09-<corps>-<contrôle> (personne), en majuscules et chiffres, par "
            "exemple 09S-ATLANTASYS-X."
        )
    prefix, body, check = match.groups()
    if not is_valid_payload(body + check):
        raise InvalidCode(
            "Le caractère de contrôle de l'identifiant est incorrect : "
            "vérifiez qu'il a été recopié sans erreur."
        )
    return Code09(prefix, body, check)
