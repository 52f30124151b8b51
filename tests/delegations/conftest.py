"""Fixtures for delegations: Atlanta's catalogue, its managing director, a
delegation drafted through the API and signed by her, and request bodies."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.delegations.service import (
    delegation_document,
    get_for_person,
    sign_delegation,
)
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.people.conftest import START, Registered, mailbox, register, runtime
from tests.people.test_enrolment import enrol
from tests.support.delegations import (
    DELEGATIONS,
    OFFICER_EMAIL,
    OFFICER_NAME,
    SATURDAY_10H,
    SIGN,
    TUESDAY_10H,
    add_catalogue,
    delegated_sign_body,
    envelope_body,
)
from tests.support.pdfs import one_page_pdf

__all__ = [
    "DELEGATIONS",
    "SATURDAY_10H",
    "SIGN",
    "TUESDAY_10H",
    "add_catalogue",
    "envelope_body",
    "mailbox",
    "runtime",
]

DIRECTOR = OFFICER_NAME
# Atlanta's catalogue here has a second kind, outside the example's envelope.
CATALOGUE = {
    "police_assurance": "polices d'assurance",
    "attestation": "attestations de garantie",
}
# START is Friday 4 December 2026, 09:00:15 in Abidjan (UTC+0, no DST).
SIGNED_AT = START + timedelta(seconds=40)


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
    add_catalogue(runtime, atlanta, CATALOGUE)
    return register(
        runtime,
        atlanta,
        name=OFFICER_NAME,
        email=OFFICER_EMAIL,
        profession="dirigeant",
    )


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
    """The example's policy in the director's name, at level B-T."""
    return delegated_sign_body(
        person, pdf or one_page_pdf(), **({"niveau": "B-T"} | overrides)
    )


def at(api: TestClient, moment: datetime) -> None:
    """Freeze the API's time for the envelope's checks."""
    api.app.state.api_clock = lambda: moment  # type: ignore[attr-defined]
