"""The three signing modes' names, as the API and the records spell them; a
leaf module, so that any package may name a mode without importing the
signing path."""

from __future__ import annotations

MODE_SYSTEM = "systeme"
MODE_DELEGATED = "deleguee"
MODE_HUMAN = "humaine"
MODES = (MODE_SYSTEM, MODE_DELEGATED, MODE_HUMAN)
# As a French reader sees them (the sheet's names).
MODE_NAMES = {
    MODE_SYSTEM: "Système",
    MODE_DELEGATED: "Déléguée",
    MODE_HUMAN: "Humaine",
}
