"""The rules of an authority matrix, apart from any storage: their shape, their
numbering, their ranges of amounts, and how a request finds its rule.

A rule says: the acts of kind ``type_acte`` whose amount lies in
[``montant_min``, ``montant_max``) are signed in mode ``mode``, by ``code_09``
when it is given, else by any identity of the right kind of the client. The
ranges of one kind never overlap, so a request has one rule at most; they may
leave gaps, where no request is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sceau.authority.errors import InvalidMatrix
from sceau.modes.names import MODE_DELEGATED, MODE_SYSTEM, MODES

MAX_RULES = 500
# The largest montant a signing request may state (XOF).
MAX_AMOUNT = 10**15

FIELDS = ("type_acte", "montant_min", "montant_max", "mode", "code_09")
# Accepted on the way in, so that a matrix read from the API can be sent back
# as it is, and ignored: rules are numbered in the order given.
IGNORED_FIELDS = ("numero",)


@dataclass(frozen=True)
class Rule:
    numero: str
    type_acte: str
    montant_min: int
    montant_max: int | None
    mode: str
    code_09: str | None

    def covers(self, amount: int) -> bool:
        """``montant_min`` is inclusive, ``montant_max`` exclusive."""
        if amount < self.montant_min:
            return False
        return self.montant_max is None or amount < self.montant_max

    @property
    def depends_on_amount(self) -> bool:
        return self.montant_min > 0 or self.montant_max is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "numero": self.numero,
            "type_acte": self.type_acte,
            "montant_min": self.montant_min,
            "montant_max": self.montant_max,
            "mode": self.mode,
            "code_09": self.code_09,
        }


# -- reading rules as the API and the CLI send them ---------------------------


def parse_rules(raw: Sequence[object]) -> tuple[Rule, ...]:
    """Rules numbered R1, R2… in the order given, each well formed, and no two
    ranges of one kind overlapping; otherwise ``InvalidMatrix`` naming the
    rule. Whether kinds and identities exist is the service's to check."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise InvalidMatrix("regles doit être une liste de règles.")
    if not raw:
        raise InvalidMatrix(
            "Une matrice d'autorité compte au moins une règle : sans règle, "
            "aucune demande ne serait admise."
        )
    if len(raw) > MAX_RULES:
        raise InvalidMatrix(
            f"Une matrice d'autorité compte au plus {MAX_RULES} règles "
            f"({len(raw)} reçues)."
        )

    rules = tuple(_parse_rule(f"R{index}", item) for index, item in enumerate(raw, 1))
    check_no_overlap(rules)
    return rules


def _parse_rule(numero: str, item: object) -> Rule:
    if not isinstance(item, Mapping):
        raise InvalidMatrix(f"Règle {numero} : un objet JSON est attendu.")

    unknown = [str(k) for k in item if k not in FIELDS and k not in IGNORED_FIELDS]
    if unknown:
        raise InvalidMatrix(
            f"Règle {numero} : champ inconnu « {unknown[0]} » ; champs admis : "
            f"{', '.join(FIELDS)}."
        )

    type_acte = item.get("type_acte")
    if not isinstance(type_acte, str) or not type_acte:
        raise InvalidMatrix(
            f"Règle {numero} : type_acte est obligatoire (un code du catalogue "
            "des types d'actes du client)."
        )

    mode = item.get("mode")
    if mode not in MODES:
        shown = f"« {mode} » est inconnu" if isinstance(mode, str) else "est requis"
        raise InvalidMatrix(
            f"Règle {numero} : le mode {shown} ; valeurs admises : {', '.join(MODES)}."
        )

    low = item.get("montant_min", 0)
    if not _is_amount(low):
        raise InvalidMatrix(
            f"Règle {numero} : montant_min est un entier de francs CFA, de 0 à "
            "10¹⁵ (0 par défaut)."
        )
    high = item.get("montant_max")
    if high is not None and not _is_amount(high):
        raise InvalidMatrix(
            f"Règle {numero} : montant_max est un entier de francs CFA (au plus "
            "10¹⁵), ou null pour une règle sans plafond."
        )
    if high is not None and high <= low:
        raise InvalidMatrix(
            f"Règle {numero} : montant_max ({format_amount(high)}) doit dépasser "
            f"montant_min ({format_amount(low)}) ; montant_min est inclus, "
            "montant_max exclu."
        )

    code_09 = item.get("code_09")
    if code_09 is not None and (not isinstance(code_09, str) or not code_09):
        raise InvalidMatrix(
            f"Règle {numero} : code_09 est un identifiant Pixel (09S-… ou 09-…), "
            "ou null pour toute identité du client du bon type."
        )
    return Rule(numero, type_acte, low, high, mode, code_09)


def _is_amount(value: object) -> bool:
    # JSON true is a Python int: refused, as is anything not a whole number.
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and 0 <= value <= MAX_AMOUNT
    )


def check_no_overlap(rules: Iterable[Rule]) -> None:
    by_kind: dict[str, list[Rule]] = {}
    for rule in rules:
        by_kind.setdefault(rule.type_acte, []).append(rule)

    for kind, ranges in by_kind.items():
        ranges.sort(key=lambda rule: rule.montant_min)
        # Sorted by their floor, with no overlap so far: only the previous
        # range can reach into the next one.
        for previous, rule in pairwise(ranges):
            if previous.montant_max is None or rule.montant_min < previous.montant_max:
                first, second = sorted((previous, rule), key=_number)
                ceiling = _lowest_ceiling(previous.montant_max, rule.montant_max)
                raise InvalidMatrix(
                    f"Les règles {first.numero} et {second.numero} se "
                    f"chevauchent : les actes « {kind} » "
                    f"{describe_range(rule.montant_min, ceiling)} relèvent des "
                    "deux. Les tranches d'un même type d'acte sont disjointes "
                    "(montant_min inclus, montant_max exclu)."
                )


def _number(rule: Rule) -> int:
    return int(rule.numero[1:])


def _lowest_ceiling(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


# -- finding a request's rule --------------------------------------------------


def rules_of_kind(rules: Iterable[Rule], type_acte: str) -> list[Rule]:
    return [rule for rule in rules if rule.type_acte == type_acte]


def matching_rule(rules: Iterable[Rule], amount: int | None) -> Rule | None:
    """The rule among ``rules`` (of one kind) that covers ``amount``; with no
    amount, the kind's single rule when it covers every amount."""
    for rule in rules:
        if amount is None:
            if not rule.depends_on_amount:
                return rule
        elif rule.covers(amount):
            return rule
    return None


# -- storage -------------------------------------------------------------------


def rules_to_json(rules: Iterable[Rule]) -> str:
    return json.dumps(
        [rule.as_json() for rule in rules], ensure_ascii=False, separators=(",", ":")
    )


def rules_from_json(text: str) -> tuple[Rule, ...]:
    return tuple(Rule(**item) for item in json.loads(text))


# -- wording -------------------------------------------------------------------


def format_amount(amount: int) -> str:
    """``5 000 000 FCFA``: thousands separated by plain spaces."""
    return f"{amount:,} FCFA".replace(",", " ")


def describe_range(low: int, high: int | None) -> str:
    """How a message names the amounts of [low, high): « de 5 000 000 FCFA et
    plus », « de tout montant »…"""
    if low == 0 and high is None:
        return "de tout montant"
    if high is None:
        return f"de {format_amount(low)} et plus"
    if low == 0:
        return f"de moins de {format_amount(high)}"
    return f"de {format_amount(low)} à moins de {format_amount(high)}"


def describe_rule(rule: Rule) -> str:
    """« les actes « police_assurance » de 5 000 000 FCFA et plus sont signés
    en mode humaine par 09-… »."""
    amounts = describe_range(rule.montant_min, rule.montant_max)
    return (
        f"les actes « {rule.type_acte} » {amounts} sont signés en mode "
        f"{rule.mode} par {describe_signer(rule)}"
    )


def describe_signer(rule: Rule) -> str:
    if rule.code_09 is not None:
        return rule.code_09
    if rule.mode == MODE_SYSTEM:
        return "une identité système (09S-…) du client"
    if rule.mode == MODE_DELEGATED:
        return "une personne (09-…) du client, dans le cadre de sa délégation"
    return "une personne (09-…) du client"
