"""Delegations for the page and browser tests: the client's catalogue of act
kinds, a company officer invited to enrol, and the API's bodies for the
sheet's example (policies under 5 million FCFA, Monday to Friday from 8 am to
6 pm, Abidjan time)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from sceau.catalogue.models import ActType
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.people.conftest import Registered, register

DELEGATIONS = "/api/v1/sceau/b2b/delegations"
SIGN = "/api/v1/sceau/b2b/signer"
OFFICER_NAME = "Awa Koné-Diabaté"
OFFICER_EMAIL = "a.diabate@atlanta.example.ci"
CATALOGUE = {"police_assurance": "polices d'assurance"}
POLICY_REASON = "Police habitation n° 2026-118"
# Inside and outside the example's hours and days, Abidjan (UTC+0) time.
TUESDAY_10H = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
TUESDAY_18H = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)
SATURDAY_10H = datetime(2026, 12, 12, 10, 0, tzinfo=UTC)


def add_catalogue(
    runtime: Runtime, client: Provisioned, entries: dict[str, str] | None = None
) -> None:
    """The kinds of acts ``client`` signs, written straight to its catalogue."""
    with runtime.db.transaction() as session:
        for code, label in (entries or CATALOGUE).items():
            session.add(ActType(client_id=client.client_id, code=code, label=label))


def register_officer(
    runtime: Runtime,
    client: Provisioned,
    *,
    now: datetime,
    name: str = OFFICER_NAME,
    email: str = OFFICER_EMAIL,
    profession: str = "dirigeant",
) -> Registered:
    """A company officer of ``client``, invited to enrol (not enrolled yet)."""
    return register(
        runtime, client, name=name, email=email, profession=profession, now=now
    )


def envelope_body(code_09: str, **overrides: Any) -> dict[str, Any]:
    """``POST /delegations``: the sheet's example envelope, for a year."""
    body: dict[str, Any] = {
        "code_09": code_09,
        "types_acte": ["police_assurance"],
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
    body.update(overrides)
    return body


def delegated_sign_body(
    officer: Registered, pdf: bytes, **overrides: Any
) -> dict[str, Any]:
    """``POST /signer`` in the officer's name, for a policy inside the
    example's amount."""
    body: dict[str, Any] = {
        "code_09": officer.code_09,
        "nom_signataire": OFFICER_NAME,
        "motif": POLICY_REASON,
        "pdf_b64": base64.b64encode(pdf).decode(),
        "type_acte": "police_assurance",
        "montant": 1_250_000,
    }
    body.update(overrides)
    return body
