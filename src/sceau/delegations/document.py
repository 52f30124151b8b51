"""The delegation as the person reads and signs it: a French A4 PDF, the same
bytes for the same delegation, with the bottom of each page left free for
the seal of the person's signature."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sceau.delegations.envelope import (
    DEFAULT_TIME_ZONE,
    Envelope,
    describe,
    french_date,
    zone_words,
)
from sceau.documents.layout import FrenchPdf
from sceau.signing.seal import CORNER_HEIGHT, CORNER_MARGIN

TITLE = "Délégation de signature"
_POINTS_PER_MM = 72 / 25.4
# The corner seal's box, from the bottom edge, and some air above it; the band
# spans the page's width, so the footer stays clear of it too.
SEAL_BAND_MM = (CORNER_MARGIN + CORNER_HEIGHT) / _POINTS_PER_MM + 3
_VOWELS = frozenset("aeiou")


@dataclass(frozen=True)
class DelegationText:
    """What the document says: who delegates, to whom, within which limits."""

    ref: str
    person_name: str
    person_code_09: str
    person_profession: str
    client_name: str
    envelope: Envelope
    act_type_labels: Mapping[str, str]
    drafted_at: datetime


def render_delegation(text: DelegationText) -> bytes:
    """The delegation's PDF, unsigned. Nothing in it depends on the clock or
    on chance: its creation date is ``drafted_at``."""
    if text.drafted_at.tzinfo is None or text.drafted_at.utcoffset() is None:
        raise ValueError("drafted_at must be timezone-aware")
    envelope = text.envelope
    system = f"le système d'information {_of(text.client_name)}"

    document = FrenchPdf(
        title=f"{TITLE} {text.ref}",
        footer=f"Pixel Sceau — {TITLE.lower()} {text.ref}",
        created_at=text.drafted_at.astimezone(UTC),
        free_bottom_mm=SEAL_BAND_MM,
    )
    document.title(TITLE)
    document.facts(
        [
            ("Référence", text.ref),
            ("Délégant", text.person_name),
            ("Qualité", text.person_profession),
            ("Identifiant Pixel", text.person_code_09),
            ("Délégataire", system),
        ]
    )

    document.heading("Autorisation")
    document.paragraph(
        f"J'autorise {system} à signer en mon nom, au moyen de mon certificat "
        "personnel, les actes décrits ci-dessous, dans les limites suivantes :"
    )
    for sentence in describe(envelope, text.act_type_labels):
        document.paragraph(sentence)

    document.heading("Conditions")
    document.paragraph(
        "Toute demande de signature qui sort de ces limites est refusée, et une "
        "notification m'en est adressée."
    )
    document.paragraph(
        "Je peux révoquer cette délégation à tout moment depuis mon espace de "
        "signature ; la révocation prend effet immédiatement."
    )
    document.paragraph(
        "Sans révocation, elle prend fin d'elle-même à la fin de son dernier jour, "
        f"le {french_date(envelope.valid_until)} à 24:00 "
        f"({zone_words(envelope.time_zone)})."
    )
    document.paragraph(
        "Chaque signature apposée en mon nom au titre de cette délégation porte "
        f"sa référence, {text.ref}."
    )

    drafted = text.drafted_at.astimezone(ZoneInfo(DEFAULT_TIME_ZONE))
    document.paragraph(
        f"Établie le {french_date(drafted.date())} à {drafted:%H:%M} "
        f"({zone_words(DEFAULT_TIME_ZONE)})."
    )
    return document.output()


def _of(name: str) -> str:
    """``d'Atlanta Assurances``, ``de Sunu Assurances``: French elides "de"
    before a vowel."""
    first = unicodedata.normalize("NFD", name.strip()[:1].lower())[:1]
    return f"d'{name}" if first in _VOWELS else f"de {name}"
