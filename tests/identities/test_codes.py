"""Pixel identifiers and their ISO 7064 MOD 37,36 check character."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sceau.identities.codes import (
    ALPHABET,
    InvalidCode,
    check_character,
    generate_body,
    make_code,
    parse_code,
)

bodies = st.text(alphabet=ALPHABET, min_size=4, max_size=16)


def test_parse_code_accepts_the_sheets_example() -> None:
    code = parse_code("09S-ATLANTASYS-X")

    assert code.is_system
    assert (code.body, code.check) == ("ATLANTASYS", "X")


def test_check_character_matches_the_published_grid_example() -> None:
    # ISO 7064 MOD 37,36 as used by the Global Release Identifier A1-2425G-ABC1234002-M.
    assert check_character("A12425GABC1234002") == "M"


@pytest.mark.parametrize(
    "text",
    [
        "09S-ATLANTASYS-Y",  # wrong check
        "09S-ATLANTSAYS-X",  # adjacent transposition
        "09S-atlantasys-X",  # lower case
        "09X-ATLANTASYS-X",  # unknown prefix
        "09S-ATL-X",  # body too short
        "ATLANTASYS",
        "",
    ],
)
def test_parse_code_refuses_mistyped_codes(text: str) -> None:
    with pytest.raises(InvalidCode) as error:
        parse_code(text)

    assert str(error.value)  # a French sentence the API returns as is


@given(bodies)
def test_make_code_round_trips_through_parse(body: str) -> None:
    code = make_code("09S", body)

    assert parse_code(str(code)) == code


@given(bodies, st.data())
def test_every_single_substitution_is_detected(body: str, data: st.DataObject) -> None:
    code = str(make_code("09S", body))
    position = data.draw(st.integers(min_value=4, max_value=len(code) - 1))
    if code[position] == "-":
        return
    replacement = data.draw(
        st.sampled_from(ALPHABET).filter(lambda c: c != code[position])
    )
    typo = code[:position] + replacement + code[position + 1 :]

    with pytest.raises(InvalidCode):
        parse_code(typo)


def test_adjacent_transpositions_are_almost_all_detected() -> None:
    """ISO 7064's hybrid system catches nearly, not quite, every swap of two
    adjacent characters: measured over a fixed sample of random bodies."""
    chooser = random.Random(7064)
    swaps = missed = 0
    for _ in range(3000):
        body = "".join(chooser.choice(ALPHABET) for _ in range(chooser.randint(4, 16)))
        payload = body + check_character(body)
        for index in range(len(payload) - 1):
            if payload[index] == payload[index + 1]:
                continue
            swapped = (
                payload[:index]
                + payload[index + 1]
                + payload[index]
                + payload[index + 2 :]
            )
            swaps += 1
            if check_character(swapped[:-1]) == swapped[-1]:
                missed += 1

    assert swaps > 25_000
    assert missed / swaps < 0.003


def test_generated_bodies_avoid_lookalike_characters() -> None:
    for _ in range(200):
        body = generate_body()
        assert len(body) == 8
        assert not set(body) & set("01ILO")
