"""Fixtures for delegations: Atlanta's catalogue, its managing director, a
delegation drafted through the API and signed by her, and request bodies."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.catalogue.models import ActType
from sceau.delegations.service import (
    delegation_document,
    get_for_person,
    sign_delegation,
)
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.people.conftest import START, Registered, mailbox, register, runtime
from tests.people.test_enrolment import enrol
from tests.support.pdfs import one_page_pdf

__all__ = ["mailbox", "runtime"]

DELEGATIONS = "/api/v1/sceau/b2b/delegations"
SIGN = "/api/v1/sceau/b2b/signer"
DIRECTOR = "Awa Koné-Diabaté"
CATALOGUE = {
    "police_assurance": "polices d'assurance",
    "attestation": "attestations de garantie",
}
# START is Friday 4 December 2026, 09:00:15 in Abidjan (UTC+0, no DST).
SIGNED_AT = START + timedelta(seconds=40)
TUESDAY_10H = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
SATURDAY_10H = datetime(2026, 12, 12, 10, 0, tzinfo=UTC)


def add_catalogue(
    runtime: Runtime, client: Provisioned, entries: dict[str, str] | None = None
) -> None:
    with runtime.db.transaction() as session:
        for code, label in (entries or CATALOGUE).items():
            session.add(ActType(client_id=client.client_id, code=code, label=label))


@pytest.fixture
def api(runtime: Runtime) -> Iterator[TestClient]:
    """The API, its time frozen at START for drafting and for the envelopes'
    checks (``at`` moves it)."""
    with TestClient(create_app(runtime.settings, runtime)) as client:
        at(client, START)
        yield client


@pytest.fixture
def director(runtime: Runtime, atlanta: Provisioned) -> Registered:
    """Atlanta's managing director, registered with her catalogue ready."""
    add_catalogue(runtime, atlanta)
    return register(
        runtime,
        atlanta,
        name=DIRECTOR,
        email="a.diabate@atlanta.example.ci",
        profession="dirigeant",
    )


def envelope_body(code_09: str, **overrides: Any) -> dict[str, Any]:
    """The sheet's example: policies under 5 million FCFA, Monday to Friday
    from 8 am to 6 pm, for a year."""
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
    }
    body.update(overrides)
    return body


def draft(api: TestClient, client: Provisioned, code_09: str, **overrides: Any) -> Any:
    return api.post(
        DELEGATIONS, json=envelope_body(code_09, **overrides), headers=client.headers
    )


@dataclass(frozen=True)
class Signed:
    ref: str
    secret: str


def sign_as_director(
    runtime: Runtime, person: Registered, ref: str, secret: str, at: datetime
) -> Any:
    with runtime.db.sessions() as session:
        state = get_for_person(session, person.person_id, ref, at)
        shown = hashlib.sha256(delegation_document(session, state.delegation))
    return sign_delegation(
        runtime,
        person_id=person.person_id,
        ref=ref,
        totp_code=pyotp.TOTP(secret).at(at),
        shown_sha256=shown.hexdigest(),
        request_id="req-web",
        now=at,
    )


def signed_delegation(
    runtime: Runtime,
    api: TestClient,
    client: Provisioned,
    person: Registered,
    **overrides: Any,
) -> Signed:
    """A delegation drafted by the API and signed by the person."""
    secret, _ = enrol(runtime, person)
    response = draft(api, client, person.code_09, **overrides)
    assert response.status_code == 201, response.text
    ref = response.json()["ref_delegation"]
    sign_as_director(runtime, person, ref, secret, SIGNED_AT)
    return Signed(ref, secret)


def delegated_body(
    person: Registered, pdf: bytes | None = None, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code_09": person.code_09,
        "nom_signataire": DIRECTOR,
        "motif": "Police habitation n° 2026-118",
        "pdf_b64": base64.b64encode(pdf or one_page_pdf()).decode(),
        "niveau": "B-T",
        "type_acte": "police_assurance",
        "montant": 1_250_000,
    }
    body.update(overrides)
    return body


def at(api: TestClient, moment: datetime) -> None:
    """Freeze the API's time for the envelope's checks."""
    api.app.state.api_clock = lambda: moment  # type: ignore[attr-defined]
