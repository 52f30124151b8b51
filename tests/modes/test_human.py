"""Mode humaine: a person's own key, a fresh TOTP code for every signature
(never the one that logged in, never twice), and a wrong code counted towards
the lock."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest

from sceau.errors import SceauError
from sceau.modes.human import MODE_HUMAN, PersonalSignatureRequest, sign_as_person
from sceau.people.errors import (
    AccountLocked,
    PersonUnavailable,
    TotpReplayed,
    WrongTotpCode,
)
from sceau.people.models import Person
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from tests.people.conftest import START, Registered, mailbox, notary, runtime
from tests.people.test_enrolment import enrol
from tests.support.pdfs import one_page_pdf
from tests.support.validators import nss_db, pdfsig, pdfsig_signatures

__all__ = ["mailbox", "notary", "runtime"]


def _request(
    person_id: str, code: str, **overrides: object
) -> PersonalSignatureRequest:
    fields: dict[str, object] = {
        "person_id": person_id,
        "reason": "Acte de vente, étude Koné",
        "pdf": one_page_pdf(),
        "level": "B-T",
        "totp_code": code,
        "request_id": "req-test",
        "started": time.perf_counter(),
    }
    fields.update(overrides)
    return PersonalSignatureRequest(**fields)  # type: ignore[arg-type]


def test_a_person_signs_with_their_own_key_and_pdfsig_trusts_it(
    runtime: Runtime, notary: Registered, tmp_path: Path
) -> None:
    secret, _ = enrol(runtime, notary)
    later = START + timedelta(seconds=30)

    outcome = sign_as_person(
        runtime, _request(notary.person_id, pyotp.TOTP(secret).at(later)), now=later
    )

    assert outcome.record.mode == MODE_HUMAN
    assert outcome.record.code_09 == notary.code_09
    signed = tmp_path / "signe.pdf"
    signed.write_bytes(outcome.signed_pdf)
    output = pdfsig(signed, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output
    assert "Certificate is Trusted." in output
    block = pdfsig_signatures(output)[0]
    assert block["Signer Certificate Common Name"] == "Maître Aminata Koné"


def test_the_code_that_enrolled_cannot_sign(
    runtime: Runtime, notary: Registered
) -> None:
    secret, _ = enrol(runtime, notary)

    with pytest.raises(TotpReplayed) as refused:
        sign_as_person(
            runtime, _request(notary.person_id, pyotp.TOTP(secret).at(START)), now=START
        )

    assert refused.value.code == "code_totp_deja_utilise"
    assert _signatures(runtime) == 0


def test_a_code_signs_once(runtime: Runtime, notary: Registered) -> None:
    secret, _ = enrol(runtime, notary)
    later = START + timedelta(seconds=30)
    code = pyotp.TOTP(secret).at(later)
    sign_as_person(runtime, _request(notary.person_id, code), now=later)

    with pytest.raises(TotpReplayed):
        sign_as_person(runtime, _request(notary.person_id, code), now=later)

    assert _signatures(runtime) == 1


def test_wrong_codes_lock_the_account_and_nothing_is_signed(
    runtime: Runtime, notary: Registered
) -> None:
    enrol(runtime, notary)
    later = START + timedelta(seconds=30)
    limit = runtime.settings.person_lock_after_failures

    errors: list[SceauError] = []
    for _ in range(limit):
        with pytest.raises((WrongTotpCode, AccountLocked)) as refused:
            sign_as_person(runtime, _request(notary.person_id, "000000"), now=later)
        errors.append(refused.value)

    assert [e.code for e in errors] == ["code_totp_invalide"] * (limit - 1) + [
        "compte_verrouille"
    ]
    with runtime.db.sessions() as session:
        assert session.get_one(Person, notary.person_id).locked_until is not None
    assert _signatures(runtime) == 0


def test_a_person_not_enrolled_cannot_sign(
    runtime: Runtime, notary: Registered
) -> None:
    with pytest.raises(PersonUnavailable):
        sign_as_person(runtime, _request(notary.person_id, "123456"), now=START)


def _signatures(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return session.query(SignatureRecord).count()
