"""A person's signature (mode humaine, the web signer and the acts a
client prepares) is billed to the person's client when it is signed, and a
refused one is not."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from sceau.billing.models import UsageRecord
from sceau.modes.human import PersonalSignatureRequest, sign_as_person
from sceau.people.errors import WrongTotpCode
from sceau.runtime import Runtime
from tests.people.conftest import START, Registered, mailbox, notary, runtime
from tests.people.test_enrolment import enrol
from tests.support.pdfs import one_page_pdf

__all__ = ["mailbox", "notary", "runtime"]


def _request(person_id: str, code: str) -> PersonalSignatureRequest:
    return PersonalSignatureRequest(
        person_id=person_id,
        reason="Acte de vente, étude Koné",
        pdf=one_page_pdf(),
        level="B-T",
        totp_code=code,
        request_id="req-test",
        started=time.perf_counter(),
    )


def test_a_persons_signature_is_billed_to_its_client_when_signed(
    runtime: Runtime, notary: Registered
) -> None:
    secret, _ = enrol(runtime, notary)
    later = START + timedelta(seconds=30)
    with pytest.raises(WrongTotpCode):
        sign_as_person(runtime, _request(notary.person_id, "000000"), now=later)

    outcome = sign_as_person(
        runtime, _request(notary.person_id, pyotp.TOTP(secret).at(later)), now=later
    )

    with runtime.db.sessions() as session:
        (row,) = session.scalars(select(UsageRecord)).all()
    assert (row.signature_ref, row.mode, row.client_id) == (
        outcome.record.ref,
        "humaine",
        outcome.record.client_id,
    )
