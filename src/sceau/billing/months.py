"""Months as the billing speaks them: ``"YYYY-MM"`` strings, in UTC."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime

from sceau.billing.errors import InvalidMonth, MonthOutOfRange

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# The calendar stops there: 0000-01 has no first day, 9999-12 no day after.
# The same bounds as the SLA's months (sceau.sla.service.month_window).
FIRST_MONTH = "0001-01"
LAST_MONTH = "9999-11"


def parse_month(text: str) -> str:
    """``text`` if it is a month ``YYYY-MM`` within the calendar, else the
    error saying so."""
    if not isinstance(text, str) or not _MONTH.match(text.strip()):
        raise InvalidMonth()
    month = text.strip()

    if not FIRST_MONTH <= month <= LAST_MONTH:
        raise MonthOutOfRange()
    return month


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def month_start(month: str) -> datetime:
    year, number = (int(part) for part in parse_month(month).split("-"))
    return datetime(year, number, 1, tzinfo=UTC)


def shift_month(month: str, months: int) -> str:
    year, number = (int(part) for part in parse_month(month).split("-"))
    index = year * 12 + (number - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def next_month(month: str) -> str:
    return shift_month(month, 1)


def month_end(month: str) -> datetime:
    """The first instant after ``month``."""
    year, number = (int(part) for part in parse_month(month).split("-"))
    return datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later; the 31st becomes the month's
    last day when the later month is shorter (29 February too)."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, number = index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, number)[1])
    return moment.replace(year=year, month=number, day=day)
