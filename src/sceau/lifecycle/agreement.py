"""The service agreement's parameters (the sheet's step 3), as the operator
records them on the step into ``convention``: which modes, which level,
whether an authority matrix governs the client, which plan, which channel for
incident notices, and the pilot's daily cap.

They are recorded, not applied: the level, the plan and the channel keep
their own commands, and ``differences`` tells the operator where the
configuration has drifted from what was agreed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sceau.clients.models import Client
from sceau.clients.service import LEVELS, PLANS
from sceau.lifecycle.errors import AgreementInvalid
from sceau.modes.names import MODES
from sceau.notifications.models import INCIDENT_CHANNELS

FIELDS = ("modes", "niveau", "matrice_autorite", "formule", "canal", "plafond_pilote")
MAX_PILOT_CAP = 1_000_000


def parse_agreement(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The agreement in its stored shape, or ``AgreementInvalid`` naming the
    first field at fault."""
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise AgreementInvalid(
            f"Champ inconnu dans la convention : {unknown[0]} (attendus : "
            f"{', '.join(FIELDS)})."
        )
    modes = raw.get("modes")
    if (
        not isinstance(modes, list)
        or not modes
        or any(mode not in MODES for mode in modes)
    ):
        raise AgreementInvalid(
            f"« modes » doit lister un ou plusieurs modes parmi {', '.join(MODES)}."
        )
    level = raw.get("niveau")
    if level not in LEVELS:
        raise AgreementInvalid(f"« niveau » doit valoir {', '.join(LEVELS)}.")
    matrix = raw.get("matrice_autorite", False)
    if not isinstance(matrix, bool):
        raise AgreementInvalid("« matrice_autorite » doit valoir true ou false.")
    plan = raw.get("formule")
    if plan not in PLANS:
        raise AgreementInvalid(f"« formule » doit valoir {', '.join(PLANS)}.")
    channel = raw.get("canal")
    if channel not in INCIDENT_CHANNELS:
        raise AgreementInvalid(f"« canal » doit valoir {', '.join(INCIDENT_CHANNELS)}.")
    cap = raw.get("plafond_pilote")
    if cap is not None and (
        isinstance(cap, bool)
        or not isinstance(cap, int)
        or not 1 <= cap <= MAX_PILOT_CAP
    ):
        raise AgreementInvalid(
            f"« plafond_pilote » doit être un entier de 1 à {MAX_PILOT_CAP}."
        )
    return {
        "modes": sorted(set(modes), key=MODES.index),
        "niveau": level,
        "matrice_autorite": matrix,
        "formule": plan,
        "canal": channel,
        "plafond_pilote": cap,
    }


def agreement_of(client: Client) -> dict[str, Any] | None:
    if client.service_agreement is None:
        return None
    agreement: dict[str, Any] = json.loads(client.service_agreement)
    return agreement


def differences(client: Client, channel: str) -> list[str]:
    """Where the client's configuration differs from its agreement, in
    French sentences for the operator; empty without an agreement."""
    agreement = agreement_of(client)
    if agreement is None:
        return []
    found = []
    if client.auth_level != agreement["niveau"]:
        found.append(
            f"niveau {client.auth_level} configuré, {agreement['niveau']} convenu"
        )
    if client.plan != agreement["formule"]:
        found.append(
            f"formule {client.plan} configurée, {agreement['formule']} convenue"
        )
    if channel != agreement["canal"]:
        found.append(f"canal {channel} configuré, {agreement['canal']} convenu")
    return found
