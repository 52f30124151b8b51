"""The envelope's judgement, at its edges: the last franc, the last second,
the first and last day, on the envelope's own clock wherever the request
comes from; and its French words, as the person and the client read them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sceau.delegations.envelope import (
    LIMIT_ACT_TYPE,
    LIMIT_AMOUNT,
    LIMIT_DAILY_COUNT,
    LIMIT_DAY,
    LIMIT_HOUR,
    LIMIT_NO_DELEGATION,
    LIMIT_VALIDITY,
    MAX_AMOUNT,
    Envelope,
    InvalidEnvelope,
    check,
    daily_limit_crossing,
    describe,
    envelope_json,
    make_envelope,
    no_delegation_crossing,
)

NBSP = "\u00a0"
ACT = "police_assurance"
LABELS = {ACT: "polices d'assurance"}
# Zones with and without summer time, half-hour and 45-minute offsets, one
# that moves by half an hour (Lord Howe), and some that skip midnight itself
# (Santiago, Havana, Beirut).
ZONES = (
    "Africa/Abidjan",
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "America/Havana",
    "Asia/Beirut",
    "UTC",
)
ALL_DAYS = (1, 2, 3, 4, 5, 6, 7)
LIMITS_OF_ONE_REQUEST = (
    LIMIT_VALIDITY,
    LIMIT_ACT_TYPE,
    LIMIT_AMOUNT,
    LIMIT_DAY,
    LIMIT_HOUR,
)
# Monday 7 December 2026, 10:00 in Abidjan (UTC+0).
MONDAY_10H = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)

zones = st.sampled_from(ZONES)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31))
codes = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True)


def sheet_kwargs(**overrides: Any) -> dict[str, Any]:
    """The sheet's example: insurance policies under 5 million FCFA, Monday to
    Friday from 8 am to 6 pm, for a year."""
    values: dict[str, Any] = {
        "act_types": [ACT],
        "max_amount": 5_000_000,
        "amount_inclusive": False,
        "weekdays": ["lundi", "mardi", "mercredi", "jeudi", "vendredi"],
        "start": "08:00",
        "end": "18:00",
        "time_zone": "Africa/Abidjan",
        "valid_from": date(2026, 12, 1),
        "valid_until": date(2027, 11, 30),
        "daily_limit": 200,
    }
    values.update(overrides)
    return values


def sheet_envelope(**overrides: Any) -> Envelope:
    return make_envelope(**sheet_kwargs(**overrides))


def open_envelope(zone: str, valid_from: date, valid_until: date) -> Envelope:
    """Every act type the tests use, any amount, every day, all day long."""
    return Envelope(
        act_types=(ACT,),
        max_amount=None,
        amount_inclusive=False,
        weekdays=ALL_DAYS,
        start_minute=0,
        end_minute=24 * 60,
        time_zone=zone,
        valid_from=valid_from,
        valid_until=valid_until,
        daily_limit=None,
    )


def wall_clock(zone: str, day: date, seconds: int, micro: int = 0) -> datetime | None:
    """The instant a clock in ``zone`` shows ``day`` plus ``seconds``, in UTC;
    None when that wall time never happens (a jump forward skips it)."""
    tz = ZoneInfo(zone)
    naive = datetime.combine(day, time()) + timedelta(
        seconds=seconds, microseconds=micro
    )
    aware = naive.replace(tzinfo=tz)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return aware.astimezone(UTC)


def crossed(envelope: Envelope, at: datetime, **request: Any) -> str | None:
    crossing = check(
        envelope,
        act_type=request.get("act_type", ACT),
        amount=request.get("amount", 1),
        at=at,
    )
    return None if crossing is None else crossing.limit


@dataclass(frozen=True)
class Request:
    envelope: Envelope
    act_type: str
    amount: int
    at: datetime
    local: datetime


@st.composite
def requests_inside(draw: st.DrawFn) -> Request:
    """A request first, then an envelope drawn around it: every limit holds."""
    zone = draw(zones)
    day = draw(days)
    second = draw(st.integers(0, 24 * 3600 - 1))
    at = wall_clock(zone, day, second, draw(st.integers(0, 999_999)))
    assume(at is not None)
    assert at is not None

    act_types = draw(st.lists(codes, min_size=1, max_size=4, unique=True))
    amount = draw(st.integers(0, 10**12))
    inclusive = draw(st.booleans())
    lowest_ceiling = max(1, amount if inclusive else amount + 1)
    minute = second // 60
    start = draw(st.integers(0, minute))
    envelope = Envelope(
        act_types=tuple(act_types),
        max_amount=draw(st.none() | st.integers(lowest_ceiling, MAX_AMOUNT)),
        amount_inclusive=inclusive,
        weekdays=tuple(
            sorted(set(draw(st.lists(st.sampled_from(ALL_DAYS)))) | {day.isoweekday()})
        ),
        start_minute=start,
        end_minute=draw(st.integers(minute + 1, 24 * 60)),
        time_zone=zone,
        valid_from=day - timedelta(days=draw(st.integers(0, 400))),
        valid_until=day + timedelta(days=draw(st.integers(0, 400))),
        daily_limit=draw(st.none() | st.integers(1, 1000)),
    )
    # The request's own zone does not matter: only its instant does.
    shown_in = draw(st.sampled_from([UTC, *(ZoneInfo(name) for name in ZONES)]))
    return Request(
        envelope=envelope,
        act_type=draw(st.sampled_from(act_types)),
        amount=amount,
        at=at.astimezone(shown_in),
        local=at.astimezone(ZoneInfo(zone)),
    )


def outside_one_limit(
    draw: st.DrawFn, request: Request, limit: str
) -> tuple[Envelope, str, int]:
    """The request and its envelope with one limit moved to exclude it."""
    envelope, act_type, amount = request.envelope, request.act_type, request.amount
    replace = dataclasses.replace
    today = request.local.date()

    if limit == LIMIT_VALIDITY:
        if draw(st.booleans()):
            first = today + timedelta(days=draw(st.integers(1, 30)))
            envelope = replace(
                envelope, valid_from=first, valid_until=max(first, envelope.valid_until)
            )
        else:
            last = today - timedelta(days=draw(st.integers(1, 30)))
            envelope = replace(
                envelope, valid_from=min(last, envelope.valid_from), valid_until=last
            )
    elif limit == LIMIT_ACT_TYPE:
        act_type = draw(codes.filter(lambda code: code not in envelope.act_types))
    elif limit == LIMIT_AMOUNT:
        if envelope.max_amount is None:
            envelope = replace(envelope, max_amount=draw(st.integers(1, 10**12)))
        assert envelope.max_amount is not None
        first_outside = envelope.max_amount + (1 if envelope.amount_inclusive else 0)
        amount = draw(st.integers(first_outside, first_outside + 10**6))
    elif limit == LIMIT_DAY:
        weekday = request.local.isoweekday()
        envelope = replace(
            envelope, weekdays=tuple(day for day in ALL_DAYS if day != weekday)
        )
    elif limit == LIMIT_HOUR:
        minute = request.local.hour * 60 + request.local.minute
        if minute >= 1 and (minute == 24 * 60 - 1 or draw(st.booleans())):
            end = draw(st.integers(1, minute))
            start = draw(st.integers(0, end - 1))
        else:
            start = draw(st.integers(minute + 1, 24 * 60 - 1))
            end = draw(st.integers(start + 1, 24 * 60))
        envelope = replace(envelope, start_minute=start, end_minute=end)
    return envelope, act_type, amount


# Every limit at once.


@given(requests_inside())
def test_check_passes_a_request_inside_every_limit(request: Request) -> None:
    assert (
        check(
            request.envelope,
            act_type=request.act_type,
            amount=request.amount,
            at=request.at,
        )
        is None
    )


@pytest.mark.parametrize("limit", LIMITS_OF_ONE_REQUEST)
@given(data=st.data())
def test_check_names_the_one_limit_crossed(limit: str, data: st.DataObject) -> None:
    request = data.draw(requests_inside())
    envelope, act_type, amount = outside_one_limit(data.draw, request, limit)

    crossing = check(envelope, act_type=act_type, amount=amount, at=request.at)

    assert crossing is not None
    assert crossing.limit == limit
    assert crossing.message.endswith(".")


@given(requests_inside())
def test_check_reads_the_instant_not_the_zone_it_is_written_in(
    request: Request,
) -> None:
    verdicts = {
        check(
            request.envelope,
            act_type=request.act_type,
            amount=request.amount,
            at=request.at.astimezone(ZoneInfo(zone)),
        )
        for zone in ZONES
    }
    assert verdicts == {None}


def test_check_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check(sheet_envelope(), act_type=ACT, amount=1, at=datetime(2026, 12, 7, 10))


def test_check_looks_at_validity_first_then_act_type_amount_day_and_hour() -> None:
    envelope = sheet_envelope()
    # A Saturday at 20:00, a year after the end, of another type, too dear.
    everything_wrong = {"act_type": "bail", "amount": 9_000_000}
    saturday_evening = datetime(2028, 12, 2, 20, 0, tzinfo=UTC)
    assert crossed(envelope, saturday_evening, **everything_wrong) == LIMIT_VALIDITY

    saturday_evening = datetime(2026, 12, 12, 20, 0, tzinfo=UTC)
    assert crossed(envelope, saturday_evening, **everything_wrong) == LIMIT_ACT_TYPE
    assert crossed(envelope, saturday_evening, amount=9_000_000) == LIMIT_AMOUNT
    assert crossed(envelope, saturday_evening) == LIMIT_DAY
    assert crossed(envelope, MONDAY_10H.replace(hour=20)) == LIMIT_HOUR


# Amount.


@given(
    ceiling=st.integers(1, 10**12),
    inclusive=st.booleans(),
)
def test_check_amount_at_the_ceiling(ceiling: int, inclusive: bool) -> None:
    envelope = sheet_envelope(max_amount=ceiling, amount_inclusive=inclusive)

    assert crossed(envelope, MONDAY_10H, amount=ceiling - 1) is None
    assert crossed(envelope, MONDAY_10H, amount=ceiling) == (
        None if inclusive else LIMIT_AMOUNT
    )
    assert crossed(envelope, MONDAY_10H, amount=ceiling + 1) == LIMIT_AMOUNT


@given(amount=st.integers(0, 10 * MAX_AMOUNT))
def test_check_without_ceiling_takes_any_amount(amount: int) -> None:
    envelope = sheet_envelope(max_amount=None)
    assert crossed(envelope, MONDAY_10H, amount=amount) is None


def test_check_amount_messages_name_the_amount_and_the_ceiling() -> None:
    exclusive = check(sheet_envelope(), act_type=ACT, amount=5_000_000, at=MONDAY_10H)
    inclusive = check(
        sheet_envelope(amount_inclusive=True),
        act_type=ACT,
        amount=5_000_001,
        at=MONDAY_10H,
    )

    assert exclusive is not None
    assert exclusive.message == (
        f"Le montant 5{NBSP}000{NBSP}000 FCFA n'est pas strictement inférieur à "
        f"5{NBSP}000{NBSP}000 FCFA, le plafond de la délégation."
    )
    assert inclusive is not None
    assert inclusive.message == (
        f"Le montant 5{NBSP}000{NBSP}001 FCFA dépasse 5{NBSP}000{NBSP}000 FCFA, "
        "le plafond de la délégation."
    )


# Hours.


def test_check_hour_at_the_edges_of_eight_to_six() -> None:
    envelope = sheet_envelope()
    monday = date(2026, 12, 7)

    def at(hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
        return datetime.combine(monday, time(hour, minute, second, micro), UTC)

    assert crossed(envelope, at(7, 59, 59)) == LIMIT_HOUR
    assert crossed(envelope, at(7, 59, 59, 999_999)) == LIMIT_HOUR
    assert crossed(envelope, at(8, 0)) is None
    assert crossed(envelope, at(17, 59, 59)) is None
    assert crossed(envelope, at(17, 59, 59, 999_999)) is None
    assert crossed(envelope, at(18, 0)) == LIMIT_HOUR
    assert crossed(envelope, at(18, 0, 0, 1)) == LIMIT_HOUR


@given(
    zone=zones,
    day=days,
    start=st.integers(0, 24 * 60 - 1),
    length=st.integers(1, 24 * 60),
)
def test_check_hour_at_the_edges_of_any_window(
    zone: str, day: date, start: int, length: int
) -> None:
    end = min(start + length, 24 * 60)
    envelope = dataclasses.replace(
        open_envelope(zone, day, day), start_minute=start, end_minute=end
    )
    edges = [
        (start * 60 - 1, False),
        (start * 60, True),
        (end * 60 - 1, True),
        (end * 60, False),
    ]
    for seconds, inside in edges:
        if not 0 <= seconds < 24 * 3600:
            continue
        for micro in (0, 999_999):
            at = wall_clock(zone, day, seconds, micro)
            if at is None:
                continue
            assert crossed(envelope, at) == (None if inside else LIMIT_HOUR), (
                seconds,
                micro,
            )


def test_check_hour_message_names_the_window_and_the_time() -> None:
    crossing = check(
        sheet_envelope(),
        act_type=ACT,
        amount=1,
        at=datetime(2026, 12, 7, 18, 0, 30, tzinfo=UTC),
    )
    assert crossing is not None
    assert crossing.message == (
        "La délégation n'autorise les signatures que de 08:00 à 18:00 (heure "
        "d'Abidjan) ; il est 18:00."
    )


def test_check_hour_runs_to_midnight_with_an_end_at_24_00() -> None:
    envelope = sheet_envelope(start="20:00", end="24:00")
    assert crossed(envelope, datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC)) is None
    # Midnight is the next day's first second, hours before its window opens.
    assert crossed(envelope, datetime(2026, 12, 8, 0, 0, tzinfo=UTC)) == LIMIT_HOUR


# Days of the week.


@given(
    zone=zones,
    allowed=st.sets(st.sampled_from(ALL_DAYS), min_size=1),
    week=st.integers(0, 52 * 30),
)
def test_check_weekday_on_every_day_of_a_week(
    zone: str, allowed: set[int], week: int
) -> None:
    monday = date(2001, 1, 1) + timedelta(weeks=week)
    envelope = dataclasses.replace(
        open_envelope(zone, monday, monday + timedelta(days=6)),
        weekdays=tuple(sorted(allowed)),
    )
    for offset in range(7):
        day = monday + timedelta(days=offset)
        at = wall_clock(zone, day, 12 * 3600)
        assert at is not None
        expected = None if day.isoweekday() in allowed else LIMIT_DAY
        assert crossed(envelope, at) == expected


def test_check_weekday_message_names_the_day_and_the_days_allowed() -> None:
    saturday = datetime(2026, 12, 12, 10, 0, tzinfo=UTC)
    crossing = check(sheet_envelope(), act_type=ACT, amount=1, at=saturday)
    assert crossing is not None
    assert crossing.message == (
        "La délégation n'autorise pas les signatures le samedi (heure d'Abidjan) ; "
        "jours autorisés : du lundi au vendredi."
    )


# Days of validity.


@given(zone=zones, first=days, span=st.integers(0, 800))
def test_check_validity_from_the_first_instant_to_the_last(
    zone: str, first: date, span: int
) -> None:
    last = first + timedelta(days=span)
    envelope = open_envelope(zone, first, last)
    tz = ZoneInfo(zone)
    tick = timedelta(microseconds=1)

    # The first day starts at local midnight, or where a jump forward skips
    # midnight, at the jump.
    opening = datetime.combine(first, time(0), tz).astimezone(UTC)
    assert envelope.local_day(opening) == first
    assert envelope.local_day(opening - tick) == first - timedelta(days=1)
    assert crossed(envelope, opening) is None
    assert crossed(envelope, opening - tick) == LIMIT_VALIDITY

    ending = envelope.ends_at()
    assert ending.tzinfo == UTC
    assert envelope.local_day(ending) == last + timedelta(days=1)
    assert envelope.local_day(ending - tick) == last
    assert crossed(envelope, ending - tick) is None
    assert crossed(envelope, ending) == LIMIT_VALIDITY

    last_second = wall_clock(zone, last, 24 * 3600 - 1)
    if last_second is not None:
        assert crossed(envelope, last_second) is None


def test_check_validity_in_abidjan_at_midnight() -> None:
    envelope = sheet_envelope(
        weekdays=list(ALL_DAYS), start="00:00", end="24:00", daily_limit=None
    )
    assert crossed(envelope, datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)) == (
        LIMIT_VALIDITY
    )
    assert crossed(envelope, datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)) is None
    assert crossed(envelope, datetime(2027, 11, 30, 23, 59, 59, tzinfo=UTC)) is None
    assert crossed(envelope, datetime(2027, 12, 1, 0, 0, 0, tzinfo=UTC)) == (
        LIMIT_VALIDITY
    )
    assert envelope.ends_at() == datetime(2027, 12, 1, tzinfo=UTC)


def test_ends_at_where_the_clock_skips_midnight() -> None:
    # Chile moves to summer time at a Saturday's 24:00: that Sunday starts at
    # 01:00, which is still the instant Saturday ends.
    zone = "America/Santiago"
    year = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    skipped = next(day for day in year if wall_clock(zone, day, 0) is None)
    envelope = open_envelope(zone, date(2026, 1, 1), skipped - timedelta(days=1))

    ending = envelope.ends_at()

    assert envelope.local(ending).date() == skipped
    assert envelope.local(ending).time() != time(0)
    assert envelope.local_day(ending - timedelta(microseconds=1)) < skipped
    assert crossed(envelope, ending - timedelta(microseconds=1)) is None
    assert crossed(envelope, ending) == LIMIT_VALIDITY


def test_check_validity_message_names_the_days() -> None:
    crossing = check(
        sheet_envelope(), act_type=ACT, amount=1, at=datetime(2027, 12, 1, tzinfo=UTC)
    )
    assert crossing is not None
    assert crossing.message == (
        "La délégation est valable du 1er décembre 2026 au 30 novembre 2027 inclus ; "
        "nous sommes le 1er décembre 2027 (heure d'Abidjan)."
    )


# Time zones.


def test_check_same_instant_inside_in_abidjan_outside_in_paris() -> None:
    # 17:30 in Abidjan is 18:30 in Paris in winter (UTC+1).
    instant = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)
    assert crossed(sheet_envelope(), instant) is None
    assert crossed(sheet_envelope(time_zone="Europe/Paris"), instant) == LIMIT_HOUR


def test_check_the_same_utc_hour_follows_paris_summer_time() -> None:
    paris = sheet_envelope(time_zone="Europe/Paris")
    # 16:30 UTC: 17:30 in Paris in December (UTC+1), 18:30 in July (UTC+2).
    assert crossed(paris, datetime(2026, 12, 7, 16, 30, tzinfo=UTC)) is None
    assert crossed(paris, datetime(2027, 7, 5, 16, 30, tzinfo=UTC)) == LIMIT_HOUR


def test_check_hour_on_the_night_paris_moves_to_summer_time() -> None:
    # Sunday 29 March 2026: at 01:00 UTC, Paris goes from 02:00 to 03:00. A
    # window of 01:00 to 03:00 lasts one hour of real time that night.
    envelope = sheet_envelope(
        time_zone="Europe/Paris",
        weekdays=list(ALL_DAYS),
        start="01:00",
        end="03:00",
        valid_from=date(2026, 3, 1),
        valid_until=date(2026, 3, 31),
    )
    assert crossed(envelope, datetime(2026, 3, 28, 23, 59, 59, tzinfo=UTC)) == (
        LIMIT_HOUR
    )
    assert crossed(envelope, datetime(2026, 3, 29, 0, 0, tzinfo=UTC)) is None
    assert crossed(envelope, datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)) is None
    assert crossed(envelope, datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == LIMIT_HOUR


def test_check_other_zone_is_named_in_the_message() -> None:
    crossing = check(
        sheet_envelope(time_zone="Europe/Paris"),
        act_type=ACT,
        amount=1,
        at=datetime(2026, 12, 7, 17, 30, tzinfo=UTC),
    )
    assert crossing is not None
    assert crossing.message == (
        "La délégation n'autorise les signatures que de 08:00 à 18:00 (fuseau "
        "Europe/Paris) ; il est 18:30."
    )


# Act types.


def test_check_act_type_message_names_the_type_and_those_allowed() -> None:
    envelope = sheet_envelope(act_types=[ACT, "avenant"])
    crossing = check(envelope, act_type="bail", amount=1, at=MONDAY_10H)
    assert crossing is not None
    assert crossing.message == (
        "Le type d'acte « bail » n'est pas couvert par la délégation ; types "
        "autorisés : police_assurance, avenant."
    )


# Daily count.


@given(limit=st.integers(1, 10_000), beyond=st.integers(0, 1000))
def test_daily_limit_crossing_at_exactly_the_limit(limit: int, beyond: int) -> None:
    envelope = sheet_envelope(daily_limit=limit)

    assert daily_limit_crossing(envelope, 0) is None
    assert daily_limit_crossing(envelope, limit - 1) is None
    crossing = daily_limit_crossing(envelope, limit + beyond)
    assert crossing is not None
    assert crossing.limit == LIMIT_DAILY_COUNT


@given(used=st.integers(0, 10**9))
def test_daily_limit_crossing_never_without_a_limit(used: int) -> None:
    assert daily_limit_crossing(sheet_envelope(daily_limit=None), used) is None


def test_daily_limit_message_names_the_quota() -> None:
    crossing = daily_limit_crossing(sheet_envelope(), 200)
    single = daily_limit_crossing(sheet_envelope(daily_limit=1), 1)
    assert crossing is not None
    assert crossing.message == (
        "Le quota de la délégation, 200 signatures par jour (heure d'Abidjan), est "
        "atteint pour aujourd'hui."
    )
    assert single is not None
    assert "1 signature par jour" in single.message


def test_no_delegation_crossing_says_so() -> None:
    assert no_delegation_crossing().limit == LIMIT_NO_DELEGATION
    assert no_delegation_crossing().message == (
        "Aucune délégation active de cette personne n'autorise ce client à signer "
        "en son nom."
    )


# Building an envelope from the API's values.


def test_make_envelope_reads_the_api_values() -> None:
    envelope = sheet_envelope(
        act_types=["  police_assurance "],
        weekdays=["Vendredi", 1, "MARDI"],
        end="24:00",
    )
    assert envelope.act_types == (ACT,)
    assert envelope.weekdays == (1, 2, 5)
    assert (envelope.start_minute, envelope.end_minute) == (8 * 60, 24 * 60)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"act_types": []}, "types_acte doit contenir au moins un type d'acte."),
        ({"act_types": "police_assurance"}, "types_acte doit être une liste de codes."),
        (
            {"act_types": [ACT, ACT]},
            "types_acte : « police_assurance » figure deux fois.",
        ),
        ({"act_types": ["Police"]}, "types_acte : « Police » n'est pas un code"),
        ({"act_types": ["_x"]}, "types_acte : « _x » n'est pas un code"),
        ({"act_types": ["a" * 65]}, f"types_acte : « {'a' * 64}… » n'est pas"),
        ({"act_types": [7]}, "types_acte ne contient que des codes"),
        ({"max_amount": 0}, "montant_max doit être un entier de 1 à"),
        ({"max_amount": True}, "montant_max doit être un entier"),
        ({"max_amount": 2.5}, "montant_max doit être un entier"),
        ({"max_amount": MAX_AMOUNT + 1}, "montant_max doit être un entier"),
        ({"amount_inclusive": "oui"}, "montant_max_inclus doit valoir true ou false."),
        ({"weekdays": []}, "jours doit contenir au moins un jour."),
        ({"weekdays": "lundi"}, "jours doit être une liste de jours."),
        ({"weekdays": ["lun"]}, "jours : « lun » n'est pas un jour ; valeurs admises"),
        ({"weekdays": [0]}, "jours : « 0 » n'est pas un jour"),
        ({"weekdays": [8]}, "jours : « 8 » n'est pas un jour"),
        ({"weekdays": ["lundi", 1]}, "jours : « lundi » figure deux fois."),
        ({"start": "8:00"}, "heure_debut doit être une heure au format HH:MM"),
        ({"start": "08h00"}, "heure_debut doit être une heure au format HH:MM"),
        ({"start": "08:60"}, "heure_debut doit être une heure au format HH:MM"),
        ({"start": 8}, "heure_debut doit être une heure au format HH:MM"),
        ({"start": "24:00"}, "heure_debut doit être comprise entre 00:00 et 23:59"),
        ({"end": "24:01"}, "heure_fin doit être comprise entre 00:01 et 24:00"),
        ({"end": "25:00"}, "heure_fin doit être comprise entre 00:01 et 24:00"),
        ({"end": "00:00"}, "heure_fin doit être comprise entre 00:01 et 24:00"),
        ({"end": "08:00"}, "heure_fin doit suivre heure_debut."),
        ({"start": "18:00", "end": "08:00"}, "heure_fin doit suivre heure_debut."),
        ({"time_zone": "Africa/Nowhere"}, "fuseau_horaire : « Africa/Nowhere » n'est"),
        ({"time_zone": "localtime"}, "fuseau_horaire : « localtime » n'est"),
        ({"time_zone": "/etc/passwd"}, "fuseau_horaire : « /etc/passwd » n'est"),
        ({"time_zone": ""}, "fuseau_horaire : «  » n'est pas un fuseau horaire"),
        ({"valid_from": "2026-12-01"}, "valide_du doit être une date (AAAA-MM-JJ)"),
        (
            {"valid_until": datetime(2027, 1, 1, tzinfo=UTC)},
            "valide_au doit être une date (AAAA-MM-JJ), sans heure.",
        ),
        (
            {"valid_until": date(2026, 11, 30)},
            "valide_au (2026-11-30) doit être le même jour que valide_du "
            "(2026-12-01) ou le suivre.",
        ),
        ({"daily_limit": 0}, "quota_journalier doit être un entier de 1 à"),
        ({"daily_limit": -3}, "quota_journalier doit être un entier"),
        ({"daily_limit": 10**7}, "quota_journalier doit être un entier"),
    ],
)
def test_make_envelope_refuses_with_the_field_named(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidEnvelope) as raised:
        sheet_envelope(**overrides)
    assert raised.value.message.startswith(message), raised.value.message
    assert raised.value.code == "enveloppe_invalide"
    assert raised.value.status == 422


def test_make_envelope_ceiling_message_is_complete() -> None:
    with pytest.raises(InvalidEnvelope) as raised:
        sheet_envelope(max_amount=0)
    assert raised.value.message == (
        f"montant_max doit être un entier de 1 à 1{NBSP}000{NBSP}000{NBSP}000"
        f"{NBSP}000{NBSP}000 FCFA, ou null pour ne fixer aucun plafond ; reçu 0."
    )


def test_make_envelope_takes_a_single_day() -> None:
    envelope = sheet_envelope(valid_until=date(2026, 12, 1))
    assert envelope.valid_from == envelope.valid_until


# Words.


def test_describe_the_sheet_example() -> None:
    assert describe(sheet_envelope(), LABELS) == [
        "Types d'actes : polices d'assurance (police_assurance).",
        f"Montant : strictement inférieur à 5{NBSP}000{NBSP}000 FCFA.",
        "Jours : du lundi au vendredi.",
        "Heures : de 08:00 (incluse) à 18:00 (exclue), heure d'Abidjan "
        "(Africa/Abidjan).",
        "Validité : du 1er décembre 2026 au 30 novembre 2027 inclus.",
        "Nombre de signatures : au plus 200 par jour.",
    ]


def test_describe_other_choices() -> None:
    envelope = sheet_envelope(
        act_types=[ACT, "avenant", "attestation"],
        max_amount=None,
        weekdays=["lundi", "mercredi", "vendredi"],
        start="00:00",
        end="24:00",
        time_zone="Europe/Paris",
        valid_from=date(2027, 1, 1),
        valid_until=date(2027, 1, 1),
        daily_limit=None,
    )
    assert describe(envelope, {**LABELS, "avenant": "avenants"}) == [
        "Types d'actes : polices d'assurance (police_assurance), avenants (avenant) "
        "et attestation.",
        "Montant : sans plafond de montant.",
        "Jours : lundi, mercredi et vendredi.",
        "Heures : de 00:00 (incluse) à 24:00 (exclue), fuseau Europe/Paris.",
        "Validité : le 1er janvier 2027 seulement.",
        "Nombre de signatures : sans limite quotidienne.",
    ]


def test_describe_an_inclusive_ceiling_and_no_labels() -> None:
    lines = describe(sheet_envelope(amount_inclusive=True, max_amount=1_500))
    assert lines[0] == "Types d'actes : police_assurance."
    assert lines[1] == f"Montant : inférieur ou égal à 1{NBSP}500 FCFA."


@pytest.mark.parametrize(
    ("weekdays", "words"),
    [
        (ALL_DAYS, "tous les jours"),
        ((1,), "lundi"),
        ((6, 7), "samedi et dimanche"),
        ((1, 2, 3), "du lundi au mercredi"),
        ((5, 6, 7, 1), "du vendredi au lundi"),
        ((1, 2, 3, 5), "lundi, mardi, mercredi et vendredi"),
        ((1, 2, 3, 4, 5, 6), "du lundi au samedi"),
        ((2, 3, 4, 5, 6, 7), "du mardi au dimanche"),
    ],
)
def test_describe_days(weekdays: tuple[int, ...], words: str) -> None:
    lines = describe(sheet_envelope(weekdays=list(weekdays)))
    assert lines[2] == f"Jours : {words}."


# The API's view.


def test_envelope_json_of_the_sheet_example() -> None:
    assert envelope_json(sheet_envelope()) == {
        "types_acte": [ACT],
        "montant_max": 5_000_000,
        "montant_max_inclus": False,
        "jours": ["lundi", "mardi", "mercredi", "jeudi", "vendredi"],
        "heure_debut": "08:00",
        "heure_fin": "18:00",
        "fuseau_horaire": "Africa/Abidjan",
        "valide_du": "2026-12-01",
        "valide_au": "2027-11-30",
        "quota_journalier": 200,
    }


def from_json(view: dict[str, Any]) -> Envelope:
    return make_envelope(
        act_types=view["types_acte"],
        max_amount=view["montant_max"],
        amount_inclusive=view["montant_max_inclus"],
        weekdays=view["jours"],
        start=view["heure_debut"],
        end=view["heure_fin"],
        time_zone=view["fuseau_horaire"],
        valid_from=date.fromisoformat(view["valide_du"]),
        valid_until=date.fromisoformat(view["valide_au"]),
        daily_limit=view["quota_journalier"],
    )


@given(requests_inside())
def test_envelope_json_round_trips(request: Request) -> None:
    assert from_json(envelope_json(request.envelope)) == request.envelope
