"""What can go wrong when asking for SLA indicators."""

from __future__ import annotations

from sceau.errors import Unprocessable


class InvalidMonth(Unprocessable):
    code = "mois_invalide"
    message = (
        "Le mois demandé est invalide : indiquez-le sous la forme AAAA-MM, "
        "par exemple 2026-11 (mois UTC)."
    )
