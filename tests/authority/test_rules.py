"""The rules of a matrix on their own: shape, numbering, ranges, wording."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sceau.authority.errors import InvalidMatrix
from sceau.authority.rules import (
    MAX_RULES,
    Rule,
    describe_rule,
    format_amount,
    matching_rule,
    parse_rules,
    rules_from_json,
    rules_of_kind,
    rules_to_json,
)

POLICY = "police_assurance"


def rule(**fields: Any) -> dict[str, Any]:
    made: dict[str, Any] = {"type_acte": POLICY, "mode": "humaine"}
    made.update(fields)
    return made


def refused(rules: list[Any]) -> str:
    with pytest.raises(InvalidMatrix) as caught:
        parse_rules(rules)
    assert caught.value.code == "matrice_invalide"
    assert caught.value.status == 422
    return caught.value.message


def test_rules_are_numbered_in_the_order_given() -> None:
    parsed = parse_rules(
        [
            rule(montant_min=5_000_000),
            rule(montant_max=5_000_000, mode="deleguee", numero="R9"),
        ]
    )

    assert [r.numero for r in parsed] == ["R1", "R2"]
    assert parsed[0] == Rule("R1", POLICY, 5_000_000, None, "humaine", None)
    assert parsed[1].montant_min == 0


def test_rules_survive_storage_unchanged() -> None:
    parsed = parse_rules([rule(montant_max=10, code_09="09-DIALLOMOUSSA-Q")])

    assert rules_from_json(rules_to_json(parsed)) == parsed


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ([], "au moins une règle"),
        ("attestation", "regles doit être une liste"),
        ([rule(), "x"], "Règle R2 : un objet JSON est attendu."),
        ([rule(plafond=3)], "Règle R1 : champ inconnu « plafond »"),
        ([{"mode": "humaine"}], "Règle R1 : type_acte est obligatoire"),
        ([rule(type_acte="")], "Règle R1 : type_acte est obligatoire"),
        (
            [rule(mode="robot")],
            "Règle R1 : le mode « robot » est inconnu ; valeurs admises",
        ),
        ([rule(mode=None)], "Règle R1 : le mode est requis"),
        ([rule(montant_min=-1)], "Règle R1 : montant_min est un entier"),
        ([rule(montant_min="5")], "Règle R1 : montant_min est un entier"),
        ([rule(montant_min=True)], "Règle R1 : montant_min est un entier"),
        ([rule(montant_min=1.5)], "Règle R1 : montant_min est un entier"),
        ([rule(montant_max=10**15 + 1)], "Règle R1 : montant_max est un entier"),
        (
            [rule(montant_min=5_000_000, montant_max=5_000_000)],
            "Règle R1 : montant_max (5 000 000 FCFA) doit dépasser montant_min "
            "(5 000 000 FCFA)",
        ),
        ([rule(code_09="")], "Règle R1 : code_09 est un identifiant Pixel"),
        ([rule(code_09=7)], "Règle R1 : code_09 est un identifiant Pixel"),
    ],
)
def test_malformed_rules_are_refused_naming_the_rule(
    rules: list[Any], expected: str
) -> None:
    assert expected in refused(rules)


def test_more_than_five_hundred_rules_are_refused() -> None:
    rules = [
        rule(montant_min=index * 10, montant_max=index * 10 + 10)
        for index in range(MAX_RULES + 1)
    ]

    assert "au plus 500 règles (501 reçues)" in refused(rules)
    assert len(parse_rules(rules[:MAX_RULES])) == MAX_RULES


def test_overlapping_ranges_of_one_kind_are_refused() -> None:
    message = refused(
        [
            rule(montant_max=5_000_000, mode="deleguee"),
            {"type_acte": "attestation", "mode": "systeme"},
            rule(montant_min=4_000_000),
        ]
    )

    assert message.startswith(
        "Les règles R1 et R3 se chevauchent : les actes « police_assurance » de "
        "4 000 000 FCFA à moins de 5 000 000 FCFA relèvent des deux."
    )


def test_a_rule_without_ceiling_overlaps_every_later_range() -> None:
    message = refused([rule(montant_min=100), rule(montant_min=1_000_000)])

    assert "R1 et R2 se chevauchent" in message
    assert "de 1 000 000 FCFA et plus" in message


def test_two_rules_for_every_amount_overlap() -> None:
    message = refused([rule(), rule(mode="systeme")])

    assert "les actes « police_assurance » de tout montant relèvent des deux" in (
        message
    )


def test_adjacent_ranges_and_gaps_are_allowed() -> None:
    parsed = parse_rules(
        [
            rule(montant_max=1_000_000),
            rule(montant_min=1_000_000, montant_max=5_000_000),
            rule(montant_min=10_000_000),
            {"type_acte": "attestation", "mode": "systeme"},
        ]
    )

    assert len(parsed) == 4


def test_floor_is_inclusive_and_ceiling_exclusive() -> None:
    below, above = parse_rules(
        [rule(montant_max=5_000_000, mode="deleguee"), rule(montant_min=5_000_000)]
    )

    assert matching_rule([below, above], 4_999_999) == below
    assert matching_rule([below, above], 5_000_000) == above
    assert matching_rule([below, above], 0) == below
    assert matching_rule([below, above], None) is None


def test_a_rule_for_every_amount_matches_without_amount() -> None:
    (only,) = parse_rules([rule()])

    assert not only.depends_on_amount
    assert matching_rule([only], None) == only
    assert matching_rule([only], 10**12) == only


def test_amounts_are_written_with_spaces_between_thousands() -> None:
    assert format_amount(5_000_000) == "5 000 000 FCFA"
    assert format_amount(999) == "999 FCFA"
    assert format_amount(0) == "0 FCFA"


def test_a_rule_reads_as_a_sentence() -> None:
    (above,) = parse_rules([rule(montant_min=5_000_000, code_09="09-DIALLOMOUSSA-Q")])
    (anyone,) = parse_rules([{"type_acte": "attestation", "mode": "systeme"}])

    assert describe_rule(above) == (
        "les actes « police_assurance » de 5 000 000 FCFA et plus sont signés en "
        "mode humaine par 09-DIALLOMOUSSA-Q"
    )
    assert describe_rule(anyone) == (
        "les actes « attestation » de tout montant sont signés en mode systeme "
        "par une identité système (09S-…) du client"
    )


# -- a valid matrix leaves every request one rule at most -----------------------

KINDS = st.sampled_from(["attestation", POLICY, "contrat"])
AMOUNTS = st.integers(min_value=0, max_value=20_000_000)


@st.composite
def ranges(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rules drawn at random, keeping those that overlap none kept before."""
    kept: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        low = draw(AMOUNTS)
        high = draw(st.none() | st.integers(min_value=low + 1, max_value=30_000_000))
        candidate = rule(
            type_acte=draw(KINDS),
            montant_min=low,
            montant_max=high,
            mode=draw(st.sampled_from(["systeme", "deleguee", "humaine"])),
        )
        try:
            parse_rules([*kept, candidate])
        except InvalidMatrix:
            continue
        kept.append(candidate)
    return kept or [rule()]


@given(ranges(), KINDS, AMOUNTS | st.none())
def test_every_request_matches_at_most_one_rule(
    drawn: list[dict[str, Any]], kind: str, amount: int | None
) -> None:
    parsed = parse_rules(drawn)
    of_kind = rules_of_kind(parsed, kind)

    if amount is None:
        covering = [r for r in of_kind if not r.depends_on_amount]
    else:
        covering = [r for r in of_kind if r.covers(amount)]

    assert len(covering) <= 1
    assert matching_rule(of_kind, amount) == (covering[0] if covering else None)


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a["type_acte"] != b["type_acte"]:
        return False
    a_high = a["montant_max"] if a["montant_max"] is not None else float("inf")
    b_high = b["montant_max"] if b["montant_max"] is not None else float("inf")
    return bool(max(a["montant_min"], b["montant_min"]) < min(a_high, b_high))


@st.composite
def any_ranges(draw: st.DrawFn) -> list[dict[str, Any]]:
    drawn = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        low = draw(st.integers(min_value=0, max_value=100))
        high = draw(st.none() | st.integers(min_value=low + 1, max_value=120))
        drawn.append(rule(type_acte=draw(KINDS), montant_min=low, montant_max=high))
    return drawn


@given(any_ranges())
def test_a_matrix_is_refused_exactly_when_two_ranges_overlap(
    drawn: list[dict[str, Any]],
) -> None:
    overlapping = any(
        _overlap(a, b) for i, a in enumerate(drawn) for b in drawn[i + 1 :]
    )

    try:
        parse_rules(drawn)
    except InvalidMatrix as exc:
        assert overlapping, exc.message
        assert "se chevauchent" in exc.message
    else:
        assert not overlapping
