"""The arithmetic of each plan across its boundaries, the SLA credits'
rounding, and properties every invoice keeps whatever its counts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sceau.billing.pricing import (
    LINE_SLA_CREDIT,
    Credit,
    Terms,
    credit_amount,
    priced,
    signature_lines,
    standard_terms,
)
from sceau.settings import Settings

SETTINGS = Settings()
ENTERPRISE = Terms(
    "enterprise", unit_price_xof=90, monthly_fee_xof=100_000, included=500
)


def total(terms: Terms, by_mode: dict[str, int], *credits: Credit) -> int:
    return priced(signature_lines(terms, by_mode), credits).total_xof


@pytest.mark.parametrize(
    ("plan", "count", "expected"),
    [
        ("pay_as_you_go", 499, 74_850),
        ("pay_as_you_go", 500, 75_000),
        ("pay_as_you_go", 501, 75_150),
        ("forfait", 499, 25_000),
        ("forfait", 500, 25_000),
        ("forfait", 501, 25_100),
        ("gratuit_notaire", 499, 0),
        ("gratuit_notaire", 501, 0),
    ],
)
def test_each_plan_bills_its_sheet_price_across_the_boundary(
    plan: str, count: int, expected: int
) -> None:
    assert total(standard_terms(plan, SETTINGS), {"systeme": count}) == expected


@pytest.mark.parametrize(
    ("count", "expected"), [(499, 100_000), (500, 100_000), (501, 100_090)]
)
def test_enterprise_bills_its_contract_across_the_included_volume(
    count: int, expected: int
) -> None:
    assert total(ENTERPRISE, {"systeme": count - 1, "humaine": 1}) == expected


def test_a_forfait_counts_every_mode_against_its_volume_and_shows_each() -> None:
    lines = signature_lines(
        standard_terms("forfait", SETTINGS), {"systeme": 300, "deleguee": 201}
    )

    assert [
        (line.kind, line.mode, line.quantity, line.amount_xof) for line in lines
    ] == [
        ("abonnement", None, 1, 25_000),
        ("signatures", "deleguee", 201, 0),
        ("signatures", "systeme", 300, 0),
        ("depassement", None, 1, 100),
    ]


def test_a_plan_that_starts_during_the_month_bills_each_signature_alone() -> None:
    lines = signature_lines(
        standard_terms("forfait", SETTINGS), {"systeme": 3}, with_fee=False
    )

    assert [
        (line.quantity, line.unit_price_xof, line.amount_xof) for line in lines
    ] == [(3, 100, 300)]


def test_a_credit_is_a_percentage_of_the_subtotal_rounded_half_up() -> None:
    assert credit_amount(25_100, 5) == 1_255
    assert credit_amount(75_150, 3) == 2_255  # 2 254.5
    assert credit_amount(75_149, 3) == 2_254  # 2 254.47

    result = priced(
        signature_lines(standard_terms("forfait", SETTINGS), {"systeme": 501}),
        [Credit("disponibilite_pct", "disponibilité", 10)],
    )
    assert (result.subtotal_xof, result.credits_xof, result.total_xof) == (
        25_100,
        -2_510,
        22_590,
    )
    assert result.lines[-1].kind == LINE_SLA_CREDIT
    assert result.lines[-1].amount_xof == -2_510


terms_strategy = st.builds(
    Terms,
    plan=st.sampled_from(["pay_as_you_go", "forfait", "enterprise", "gratuit_notaire"]),
    unit_price_xof=st.integers(0, 10_000),
    monthly_fee_xof=st.integers(0, 10_000_000),
    included=st.integers(0, 100_000),
)
counts_strategy = st.dictionaries(
    st.sampled_from(["systeme", "deleguee", "humaine"]), st.integers(0, 200_000)
)
credits_strategy = st.lists(
    st.builds(
        Credit,
        code=st.just("indicateur"),
        label=st.just("indicateur"),
        percent=st.integers(0, 100),
    ),
    max_size=6,
)


@given(terms_strategy, counts_strategy, credits_strategy, st.booleans())
def test_an_invoice_adds_up_and_is_never_negative(
    terms: Terms, by_mode: dict[str, int], credits: list[Credit], with_fee: bool
) -> None:
    result = priced(signature_lines(terms, by_mode, with_fee=with_fee), credits)

    assert sum(line.amount_xof for line in result.lines) == result.total_xof
    assert result.subtotal_xof + result.credits_xof == result.total_xof
    assert 0 <= result.total_xof <= result.subtotal_xof
    assert all(
        (line.amount_xof <= 0) == (line.kind == LINE_SLA_CREDIT) or line.amount_xof == 0
        for line in result.lines
    )
    assert all(
        line.amount_xof == line.quantity * line.unit_price_xof for line in result.lines
    )
    billed = sum(line.quantity for line in result.lines if line.kind == "signatures")
    assert billed == sum(by_mode.values())
