"""A delegation's envelope: the limits inside which a client's system may sign
in a person's name, and the one judgement of a request against them.

Pure logic: no database, no clock. Days and hours are the envelope's local
ones (its IANA time zone); the instant of a request arrives timezone-aware.
The sentences are French, as the API, the pages and the signed document
speak, and each names the limit and the values it compares.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sceau.errors import Unprocessable

WEEKDAY_NAMES = (
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
)
DEFAULT_TIME_ZONE = "Africa/Abidjan"

LIMIT_ACT_TYPE = "type_acte"
LIMIT_AMOUNT = "montant"
LIMIT_DAY = "jour"
LIMIT_HOUR = "heure"
LIMIT_VALIDITY = "validite"
LIMIT_DAILY_COUNT = "quota_journalier"
LIMIT_NO_DELEGATION = "aucune_delegation"

MINUTES_PER_DAY = 24 * 60
# Far above any act, low enough for a signed 64-bit column.
MAX_AMOUNT = 10**15
# A 32-bit column, and far above what one person's name should sign in a day.
MAX_DAILY_LIMIT = 1_000_000
# A delegation is reviewed like the matrix that names it: ten years at most.
MAX_VALIDITY_DAYS = 10 * 365 + 2
ACT_TYPE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_CLOCK = re.compile(r"^(\d{2}):([0-5]\d)$")
# No-break space: "5 000 000" never wraps across two lines of the document,
# and the standard PDF fonts (Windows-1252) draw it.
_THOUSANDS = "\u00a0"
_SHOWN_CODE_LENGTH = 64


class InvalidEnvelope(Unprocessable):
    code = "enveloppe_invalide"
    message = "L'enveloppe de la délégation est invalide."


@dataclass(frozen=True)
class Envelope:
    """The limits of one delegation, checked when built (``InvalidEnvelope``
    names the API's field at fault). ``make_envelope`` builds one from the
    API's values."""

    act_types: tuple[str, ...]
    max_amount: int | None
    amount_inclusive: bool
    weekdays: tuple[int, ...]
    start_minute: int
    end_minute: int
    time_zone: str
    valid_from: date
    valid_until: date
    daily_limit: int | None

    def __post_init__(self) -> None:
        _check_act_types(self.act_types)
        _check_positive(
            self.max_amount,
            "montant_max",
            MAX_AMOUNT,
            f"de 1 à {format_amount(MAX_AMOUNT)}, ou null pour ne fixer aucun plafond",
        )
        if not isinstance(self.amount_inclusive, bool):
            raise InvalidEnvelope("montant_max_inclus doit valoir true ou false.")
        _check_weekdays(self.weekdays)
        _check_hours(self.start_minute, self.end_minute)
        _check_time_zone(self.time_zone)
        _check_dates(self.valid_from, self.valid_until)
        _check_positive(
            self.daily_limit,
            "quota_journalier",
            MAX_DAILY_LIMIT,
            f"de 1 à {_grouped(MAX_DAILY_LIMIT)}, ou null pour ne fixer aucune limite",
        )

    @property
    def _zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local(self, at: datetime) -> datetime:
        """``at``, an aware instant in any zone, on the envelope's clock."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("the instant of a request must be timezone-aware")
        return at.astimezone(self._zone)

    def local_day(self, at: datetime) -> date:
        return self.local(at).date()

    def ends_at(self) -> datetime:
        """The UTC instant the delegation ends: local midnight after its last
        day. Where a zone skips that midnight, a naive midnight (fold 0) reads
        with the offset before the jump, which is the instant the new day
        begins."""
        midnight = datetime.combine(
            self.valid_until + timedelta(days=1), time(0), tzinfo=self._zone
        )
        return midnight.astimezone(UTC)


@dataclass(frozen=True)
class Crossing:
    """Why a request is outside the envelope: which limit, in one sentence."""

    limit: str
    message: str


def make_envelope(
    *,
    act_types: Iterable[str],
    max_amount: int | None,
    amount_inclusive: bool,
    weekdays: Iterable[str | int],
    start: str,
    end: str,
    time_zone: str = DEFAULT_TIME_ZONE,
    valid_from: date,
    valid_until: date,
    daily_limit: int | None,
) -> Envelope:
    """An envelope from the API's values: days as French names or ISO numbers,
    hours as ``HH:MM`` (``24:00`` as an end only)."""
    return Envelope(
        act_types=_parse_act_types(act_types),
        max_amount=max_amount,
        amount_inclusive=amount_inclusive,
        weekdays=_parse_weekdays(weekdays),
        start_minute=_parse_clock(start, "heure_debut"),
        end_minute=_parse_clock(end, "heure_fin"),
        time_zone=time_zone,
        valid_from=valid_from,
        valid_until=valid_until,
        daily_limit=daily_limit,
    )


def check(
    envelope: Envelope, *, act_type: str, amount: int, at: datetime
) -> Crossing | None:
    """The first limit a request at ``at`` crosses, or None when it is inside
    every limit but the daily count (``daily_limit_crossing``). The amount is
    taken as given: the request's schema refuses a negative one."""
    local = envelope.local(at)
    zone = zone_words(envelope.time_zone)

    today = local.date()
    if not envelope.valid_from <= today <= envelope.valid_until:
        return Crossing(
            LIMIT_VALIDITY,
            f"La délégation est valable {_validity_words(envelope)} ; nous sommes "
            f"le {french_date(today)} ({zone}).",
        )

    if act_type not in envelope.act_types:
        return Crossing(
            LIMIT_ACT_TYPE,
            f"Le type d'acte « {_shown(act_type)} » n'est pas couvert par la "
            f"délégation ; types autorisés : {', '.join(envelope.act_types)}.",
        )

    amount_crossing = _amount_crossing(envelope, amount)
    if amount_crossing is not None:
        return amount_crossing

    if local.isoweekday() not in envelope.weekdays:
        return Crossing(
            LIMIT_DAY,
            "La délégation n'autorise pas les signatures le "
            f"{WEEKDAY_NAMES[local.isoweekday() - 1]} ({zone}) ; jours autorisés : "
            f"{_weekdays_words(envelope.weekdays)}.",
        )

    # Second precision: 17:59:59.999 is still before an 18:00 end.
    second = local.hour * 3600 + local.minute * 60 + local.second
    if not envelope.start_minute * 60 <= second < envelope.end_minute * 60:
        return Crossing(
            LIMIT_HOUR,
            "La délégation n'autorise les signatures que de "
            f"{_clock(envelope.start_minute)} à {_clock(envelope.end_minute)} "
            f"({zone}) ; il est {local:%H:%M}.",
        )
    return None


def daily_limit_crossing(envelope: Envelope, used_today: int) -> Crossing | None:
    """The daily count crossed when ``used_today`` signatures were already
    made on the request's local day."""
    if envelope.daily_limit is None or used_today < envelope.daily_limit:
        return None
    return Crossing(
        LIMIT_DAILY_COUNT,
        f"Le quota de la délégation, {_signatures(envelope.daily_limit)} par jour "
        f"({zone_words(envelope.time_zone)}), est atteint pour aujourd'hui.",
    )


def no_delegation_crossing() -> Crossing:
    return Crossing(
        LIMIT_NO_DELEGATION,
        "Aucune délégation active de cette personne n'autorise ce client à signer "
        "en son nom.",
    )


def describe(
    envelope: Envelope, act_type_labels: Mapping[str, str] | None = None
) -> list[str]:
    """The envelope in French, one sentence per limit: what the person signs,
    and what the pages and the API show."""
    labels = act_type_labels or {}
    act_types = _french_list(
        [_act_type_words(code, labels) for code in envelope.act_types]
    )

    if envelope.max_amount is None:
        amount = "sans plafond de montant"
    elif envelope.amount_inclusive:
        amount = f"inférieur ou égal à {format_amount(envelope.max_amount)}"
    else:
        amount = f"strictement inférieur à {format_amount(envelope.max_amount)}"

    zone = zone_words(envelope.time_zone)
    if envelope.time_zone == DEFAULT_TIME_ZONE:
        zone = f"{zone} ({envelope.time_zone})"

    count = (
        "sans limite quotidienne"
        if envelope.daily_limit is None
        else f"au plus {envelope.daily_limit} par jour"
    )
    return [
        f"Types d'actes : {act_types}.",
        f"Montant : {amount}.",
        f"Jours : {_weekdays_words(envelope.weekdays)}.",
        f"Heures : de {_clock(envelope.start_minute)} (incluse) à "
        f"{_clock(envelope.end_minute)} (exclue), {zone}.",
        f"Validité : {_validity_words(envelope)}.",
        f"Nombre de signatures : {count}.",
    ]


def envelope_json(envelope: Envelope) -> dict[str, object]:
    """The API's view of the envelope, field for field what it accepts."""
    return {
        "types_acte": list(envelope.act_types),
        "montant_max": envelope.max_amount,
        "montant_max_inclus": envelope.amount_inclusive,
        "jours": [WEEKDAY_NAMES[day - 1] for day in envelope.weekdays],
        "heure_debut": _clock(envelope.start_minute),
        "heure_fin": _clock(envelope.end_minute),
        "fuseau_horaire": envelope.time_zone,
        "valide_du": envelope.valid_from.isoformat(),
        "valide_au": envelope.valid_until.isoformat(),
        "quota_journalier": envelope.daily_limit,
    }


def format_amount(amount: int) -> str:
    """``5 000 000 FCFA``, with no-break spaces."""
    return f"{_grouped(amount)} FCFA"


def french_date(day: date) -> str:
    """``1er décembre 2026``, ``30 novembre 2027``."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {_MONTHS[day.month - 1]} {day.year}"


def zone_words(time_zone: str) -> str:
    """``heure d'Abidjan`` for the service's own zone, else ``fuseau <name>``."""
    return (
        "heure d'Abidjan" if time_zone == DEFAULT_TIME_ZONE else f"fuseau {time_zone}"
    )


# Parsing the API's values.


def _parse_act_types(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidEnvelope("types_acte doit être une liste de codes.")
    codes: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidEnvelope(
                "types_acte ne contient que des codes (chaînes de caractères)."
            )
        codes.append(value.strip())
    return tuple(codes)


def _parse_weekdays(values: Iterable[str | int]) -> tuple[int, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidEnvelope("jours doit être une liste de jours.")
    numbers: list[int] = []
    for value in values:
        number = _weekday_number(value)
        if number in numbers:
            raise InvalidEnvelope(
                f"jours : « {WEEKDAY_NAMES[number - 1]} » figure deux fois."
            )
        numbers.append(number)
    return tuple(sorted(numbers))


def _weekday_number(value: object) -> int:
    if isinstance(value, str) and value.strip().lower() in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(value.strip().lower()) + 1
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 7:
        return value
    raise InvalidEnvelope(
        f"jours : « {_shown(str(value))} » n'est pas un jour ; valeurs admises : "
        f"{', '.join(WEEKDAY_NAMES)}, ou leur numéro de 1 (lundi) à 7 (dimanche)."
    )


def _parse_clock(value: object, field: str) -> int:
    matched = _CLOCK.match(value) if isinstance(value, str) else None
    if matched is None:
        raise InvalidEnvelope(
            f"{field} doit être une heure au format HH:MM (par exemple 08:00) ; "
            f"reçu « {_shown(str(value))} »."
        )
    return int(matched.group(1)) * 60 + int(matched.group(2))


# The envelope's own rules, whichever way it was built.


def _check_act_types(codes: tuple[str, ...]) -> None:
    if not isinstance(codes, tuple) or not codes:
        raise InvalidEnvelope("types_acte doit contenir au moins un type d'acte.")
    seen: set[str] = set()
    for code in codes:
        if not isinstance(code, str) or not ACT_TYPE_PATTERN.match(code):
            raise InvalidEnvelope(
                f"types_acte : « {_shown(str(code))} » n'est pas un code de type "
                "d'acte : de 1 à 64 caractères parmi a-z, 0-9, « _ », « . » et "
                "« - », le premier étant une lettre ou un chiffre."
            )
        if code in seen:
            raise InvalidEnvelope(f"types_acte : « {code} » figure deux fois.")
        seen.add(code)


def _check_positive(value: int | None, field: str, highest: int, admitted: str) -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= highest
    ):
        raise InvalidEnvelope(
            f"{field} doit être un entier {admitted} ; reçu {value!r}."
        )


def _check_weekdays(weekdays: tuple[int, ...]) -> None:
    if not isinstance(weekdays, tuple) or not weekdays:
        raise InvalidEnvelope("jours doit contenir au moins un jour.")
    if any(isinstance(day, bool) or day not in range(1, 8) for day in weekdays):
        raise InvalidEnvelope(
            "jours : un jour se numérote de 1 (lundi) à 7 (dimanche)."
        )
    if list(weekdays) != sorted(set(weekdays)):
        raise InvalidEnvelope("jours : chaque jour figure une fois, dans l'ordre.")


def _check_hours(start: int, end: int) -> None:
    if not 0 <= start < MINUTES_PER_DAY:
        raise InvalidEnvelope(
            "heure_debut doit être comprise entre 00:00 et 23:59 ; reçu "
            f"{_clock(start)}."
        )
    if not 0 < end <= MINUTES_PER_DAY:
        raise InvalidEnvelope(
            f"heure_fin doit être comprise entre 00:01 et 24:00 ; reçu {_clock(end)}."
        )
    if end <= start:
        raise InvalidEnvelope("heure_fin doit suivre heure_debut.")


def _check_time_zone(name: str) -> None:
    if not isinstance(name, str) or name not in _iana_zones():
        raise InvalidEnvelope(
            f"fuseau_horaire : « {_shown(str(name))} » n'est pas un fuseau horaire "
            "IANA connu (par exemple Africa/Abidjan ou Europe/Paris)."
        )


@functools.cache
def _iana_zones() -> frozenset[str]:
    # "localtime" is this machine's setting, not a zone anyone can name.
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def _check_dates(first: date, last: date) -> None:
    for field, value in (("valide_du", first), ("valide_au", last)):
        if isinstance(value, datetime) or not isinstance(value, date):
            raise InvalidEnvelope(
                f"{field} doit être une date (AAAA-MM-JJ), sans heure."
            )
    if last < first:
        raise InvalidEnvelope(
            f"valide_au ({last.isoformat()}) doit être le même jour que valide_du "
            f"({first.isoformat()}) ou le suivre."
        )
    if (last - first).days >= MAX_VALIDITY_DAYS:
        raise InvalidEnvelope(
            f"Une délégation vaut au plus {MAX_VALIDITY_DAYS // 365} ans : "
            f"valide_au ({last.isoformat()}) est trop loin de valide_du "
            f"({first.isoformat()}). Faites-en signer une nouvelle à son terme."
        )


# Words.


def _amount_crossing(envelope: Envelope, amount: int) -> Crossing | None:
    ceiling = envelope.max_amount
    if ceiling is None:
        return None
    if envelope.amount_inclusive and amount > ceiling:
        return Crossing(
            LIMIT_AMOUNT,
            f"Le montant {format_amount(amount)} dépasse {format_amount(ceiling)}, "
            "le plafond de la délégation.",
        )
    if not envelope.amount_inclusive and amount >= ceiling:
        return Crossing(
            LIMIT_AMOUNT,
            f"Le montant {format_amount(amount)} n'est pas strictement inférieur à "
            f"{format_amount(ceiling)}, le plafond de la délégation.",
        )
    return None


def _act_type_words(code: str, labels: Mapping[str, str]) -> str:
    label = labels.get(code, "").strip()
    return f"{label} ({code})" if label and label != code else code


def _grouped(number: int) -> str:
    return f"{number:,}".replace(",", _THOUSANDS)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _validity_words(envelope: Envelope) -> str:
    first, last = envelope.valid_from, envelope.valid_until
    if first == last:
        return f"le {french_date(first)} seulement"
    return f"du {french_date(first)} au {french_date(last)} inclus"


def _weekdays_words(weekdays: Sequence[int]) -> str:
    """``tous les jours``; ``du lundi au vendredi`` for three days or more in
    a row, the week wrapping around (``du vendredi au lundi``); else a list."""
    if len(weekdays) == 7:
        return "tous les jours"
    if len(weekdays) >= 3:
        for first in weekdays:
            run = [(first - 1 + step) % 7 + 1 for step in range(len(weekdays))]
            if set(run) == set(weekdays):
                return f"du {WEEKDAY_NAMES[first - 1]} au {WEEKDAY_NAMES[run[-1] - 1]}"
    return _french_list([WEEKDAY_NAMES[day - 1] for day in weekdays])


def _french_list(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} et {items[-1]}"


def _signatures(count: int) -> str:
    return f"{count} signature" if count == 1 else f"{count} signatures"


def _shown(value: str) -> str:
    """A caller's value, cut short before it goes back into a message."""
    if len(value) <= _SHOWN_CODE_LENGTH:
        return value
    return value[:_SHOWN_CODE_LENGTH] + "…"
