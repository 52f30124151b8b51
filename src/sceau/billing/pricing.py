"""The arithmetic of an invoice, without a database: a month's signatures
counted by mode, the plan's terms, and the SLA credits, made into lines.

Every amount is a whole number of XOF. A plan with a volume included counts
every signature of the month against it, whatever its mode, and bills what
goes beyond at its unit price. An SLA credit is a percentage of the subtotal
rounded to the nearest franc, a half franc up; the credits together never
exceed the subtotal, so an invoice is never negative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sceau.settings import Settings

GRATUIT_NOTAIRE = "gratuit_notaire"
PAY_AS_YOU_GO = "pay_as_you_go"
FORFAIT = "forfait"
ENTERPRISE = "enterprise"
AFTER_FREE_PLANS = (PAY_AS_YOU_GO, FORFAIT)

PLAN_LABELS = {
    GRATUIT_NOTAIRE: "Gratuit — Notaires",
    PAY_AS_YOU_GO: "Pay-as-you-go",
    FORFAIT: "Forfait mensuel",
    ENTERPRISE: "Enterprise",
}
MODE_LABELS = {
    "systeme": "mode système",
    "deleguee": "mode délégué",
    "humaine": "mode humain",
}

LINE_SIGNATURES = "signatures"
LINE_FEE = "abonnement"
LINE_OVERAGE = "depassement"
LINE_SLA_CREDIT = "credit_sla"
LINE_CREDIT_NOTE = "avoir"


@dataclass(frozen=True)
class Terms:
    """What a plan costs: a monthly fee including a volume, and a unit price
    for each signature beyond it (for every one when nothing is included)."""

    plan: str
    unit_price_xof: int
    monthly_fee_xof: int = 0
    included: int = 0


@dataclass(frozen=True)
class Line:
    kind: str
    label: str
    quantity: int
    unit_price_xof: int
    amount_xof: int
    plan: str | None = None
    mode: str | None = None


@dataclass(frozen=True)
class Credit:
    """An SLA indicator that missed its target, and the share it credits."""

    code: str
    label: str
    percent: int


@dataclass(frozen=True)
class Priced:
    lines: list[Line]
    subtotal_xof: int
    credits_xof: int
    total_xof: int


def standard_terms(plan: str, settings: Settings) -> Terms:
    """The configured terms of a plan other than enterprise."""
    if plan == PAY_AS_YOU_GO:
        return Terms(plan, settings.billing_pay_as_you_go_unit_xof)
    if plan == FORFAIT:
        return Terms(
            plan,
            settings.billing_forfait_overage_xof,
            settings.billing_forfait_fee_xof,
            settings.billing_forfait_included,
        )
    if plan == GRATUIT_NOTAIRE:
        return Terms(plan, 0)
    raise ValueError(f"{plan!r} has per-client terms")


def signature_lines(
    terms: Terms, by_mode: Mapping[str, int], *, with_fee: bool = True
) -> list[Line]:
    """The lines of one plan's part of a month. ``with_fee`` False bills the
    signatures at the unit price alone, with neither fee nor volume included
    (a plan that began during the month: see docs/operations.md)."""
    fee = terms.monthly_fee_xof if with_fee else 0
    included = terms.included if with_fee else 0
    plan_label = PLAN_LABELS.get(terms.plan, terms.plan)
    lines: list[Line] = []

    if with_fee and (fee or included):
        lines.append(
            Line(
                LINE_FEE,
                f"{plan_label} : redevance mensuelle, {included} signatures incluses",
                1,
                fee,
                fee,
                plan=terms.plan,
            )
        )

    for mode in sorted(by_mode):
        count = by_mode[mode]
        if count <= 0:
            continue
        unit = 0 if included else terms.unit_price_xof
        note = ""
        if terms.plan == GRATUIT_NOTAIRE:
            note = ", période gratuite"
        elif included:
            note = ", au titre du volume inclus"
        lines.append(
            Line(
                LINE_SIGNATURES,
                f"{plan_label} : signatures en {MODE_LABELS.get(mode, mode)}{note}",
                count,
                unit,
                count * unit,
                plan=terms.plan,
                mode=mode,
            )
        )

    beyond = sum(max(0, count) for count in by_mode.values()) - included
    if included and beyond > 0:
        lines.append(
            Line(
                LINE_OVERAGE,
                f"{plan_label} : signatures au-delà des {included} incluses",
                beyond,
                terms.unit_price_xof,
                beyond * terms.unit_price_xof,
                plan=terms.plan,
            )
        )
    return lines


def credit_amount(subtotal_xof: int, percent: int) -> int:
    """``percent`` % of the subtotal, to the nearest franc, a half up."""
    return (subtotal_xof * percent + 50) // 100


def priced(lines: Sequence[Line], credits: Sequence[Credit] = ()) -> Priced:
    """The lines with the SLA credits after them, and the totals."""
    subtotal = sum(line.amount_xof for line in lines)
    every = list(lines)
    left = subtotal
    for credit in credits:
        percent = min(100, max(0, credit.percent))
        amount = min(left, credit_amount(subtotal, percent))
        if amount <= 0:
            continue
        left -= amount
        every.append(
            Line(
                LINE_SLA_CREDIT,
                f"Crédit de service : {credit.label} (objectif manqué, {percent} %)",
                1,
                -amount,
                -amount,
            )
        )
    credits_total = left - subtotal
    return Priced(every, subtotal, credits_total, subtotal + credits_total)
