"""Registration, the invitation e-mail and enrolment, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from sceau.audit.actors import Actor
from sceau.identities.errors import PersonalIdentity
from sceau.identities.models import Identity
from sceau.identities.service import resolve_signing_identity
from sceau.people.errors import EnrolmentLinkInvalid, WeakPassword, WrongTotpCode
from sceau.people.models import EnrolmentToken, Person
from sceau.people.service import finish_enrolment, reset_person, start_enrolment
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.people.conftest import START, Registered, deliver_mail
from tests.support.events import Mailbox

PASSWORD = "le fleuve Comoé coule vers la mer"


def enrol(runtime: Runtime, who: Registered) -> tuple[str, list[str]]:
    with runtime.db.transaction() as session:
        secret = start_enrolment(session, runtime.sealer, who.token, now=START).secret
        codes = finish_enrolment(
            session,
            runtime.sealer,
            runtime.settings,
            who.token,
            password=PASSWORD,
            first_code=pyotp.TOTP(secret).at(START),
            now=START,
        )
    return secret, codes


def test_create_person_issues_a_09_identity_and_its_certificate(
    runtime: Runtime, notary: Registered
) -> None:
    with runtime.db.sessions() as session:
        identity = session.get_one(Identity, notary.code_09)
    certificate = x509.load_der_x509_certificate(identity.certificate_der)
    subject = certificate.subject

    assert notary.code_09.startswith("09-")
    assert identity.kind == "personne"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Maître Aminata Koné"
    )
    assert (
        subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == notary.code_09
    )


def test_personal_identity_cannot_sign_through_the_api(
    runtime: Runtime, atlanta: Provisioned, notary: Registered
) -> None:
    with runtime.db.sessions() as session, pytest.raises(PersonalIdentity):
        resolve_signing_identity(
            session,
            client_id=atlanta.client_id,
            code_09=notary.code_09,
            signer_name="Maître Aminata Koné",
        )


def test_invitation_email_carries_a_link_stored_only_hashed(
    runtime: Runtime, notary: Registered, mailbox: Mailbox
) -> None:
    deliver_mail(runtime, START)

    [message] = mailbox.messages
    plain = message.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    assert message["To"] == notary.email
    assert message["Subject"] == "[Pixel Sceau] Activez votre compte de signature"
    assert f"https://sceau.example.ci/signer/inscription/{notary.token}" in text
    assert notary.code_09 in text
    assert "07/12/2026" in text  # 72 hours later
    with runtime.db.sessions() as session:
        row = session.query(EnrolmentToken).one()
    assert notary.token not in row.token_hash


def test_enrolment_sets_password_totp_and_ten_recovery_codes(
    runtime: Runtime, notary: Registered
) -> None:
    secret, codes = enrol(runtime, notary)

    with runtime.db.sessions() as session:
        person = session.get_one(Person, notary.person_id)
    assert person.enrolled
    assert person.password_hash is not None
    assert person.password_hash.startswith("$argon2id$")
    assert PASSWORD not in person.password_hash
    assert person.totp_secret_sealed is not None
    assert secret.encode() not in person.totp_secret_sealed
    assert len(codes) == 10
    assert len(set(codes)) == 10


def test_start_enrolment_offers_the_same_secret_on_every_visit(
    runtime: Runtime, notary: Registered
) -> None:
    with runtime.db.transaction() as session:
        first = start_enrolment(session, runtime.sealer, notary.token, now=START)
    with runtime.db.transaction() as session:
        again = start_enrolment(session, runtime.sealer, notary.token, now=START)

    assert first.secret == again.secret
    assert first.provisioning_uri.startswith("otpauth://totp/Pixel%20Sceau:")
    assert "issuer=Pixel%20Sceau" in first.provisioning_uri


def test_enrolment_link_works_once(runtime: Runtime, notary: Registered) -> None:
    enrol(runtime, notary)

    with runtime.db.transaction() as session, pytest.raises(EnrolmentLinkInvalid):
        start_enrolment(session, runtime.sealer, notary.token, now=START)


def test_enrolment_link_expires_after_72_hours(
    runtime: Runtime, notary: Registered
) -> None:
    late = START + timedelta(hours=72)

    with runtime.db.transaction() as session, pytest.raises(EnrolmentLinkInvalid):
        start_enrolment(session, runtime.sealer, notary.token, now=late)


def test_finish_enrolment_refuses_a_weak_password_or_a_wrong_code(
    runtime: Runtime, notary: Registered
) -> None:
    with runtime.db.transaction() as session:
        secret = start_enrolment(
            session, runtime.sealer, notary.token, now=START
        ).secret
    code = pyotp.TOTP(secret).at(START)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    with runtime.db.transaction() as session:
        with pytest.raises(WeakPassword):
            finish_enrolment(
                session,
                runtime.sealer,
                runtime.settings,
                notary.token,
                password="motdepasse123",
                first_code=code,
                now=START,
            )
        with pytest.raises(WrongTotpCode):
            finish_enrolment(
                session,
                runtime.sealer,
                runtime.settings,
                notary.token,
                password=PASSWORD,
                first_code=wrong,
                now=START,
            )


def test_reset_clears_credentials_and_replaces_the_link(
    runtime: Runtime, notary: Registered
) -> None:
    enrol(runtime, notary)

    with runtime.db.transaction() as session:
        invitation = reset_person(
            session,
            runtime.settings,
            notary.code_09,
            now=START + timedelta(hours=1),
            by=Actor.operator(),
        )
        assert not invitation.person.enrolled
    new_token = invitation.link.rsplit("/", 1)[1]
    with runtime.db.transaction() as session:
        start_enrolment(session, runtime.sealer, new_token, now=START)
