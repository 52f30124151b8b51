"""People: registration by the operator, invitation, enrolment, reset.

Every function works in the caller's transaction and takes ``now`` so that
tests can move the clock; logins are in ``sceau.people.login``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record
from sceau.clients.service import create_client, get_client
from sceau.db import utcnow
from sceau.errors import SceauError
from sceau.events import types
from sceau.events.service import queue_email, record_event
from sceau.identities.codes import PERSON_PREFIX, InvalidCode, parse_code
from sceau.identities.errors import (
    IdentityOfAnotherClient,
    IdentityRevoked,
    MalformedCode,
    UnknownIdentity,
)
from sceau.identities.models import Identity
from sceau.identities.service import (
    KIND_PERSON,
    choose_code,
    issue_identity,
    normalise_label,
)
from sceau.lifecycle.models import PRODUCTION
from sceau.people import totp
from sceau.people.enrolment_links import EnrolmentLinks, clear_credentials, digest
from sceau.people.errors import (
    EmailTaken,
    InvalidPerson,
    PersonNotFound,
)
from sceau.people.models import PROFESSIONS, EnrolmentToken, Person, RecoveryCode
from sceau.pki.keystore import KeyAlgorithm, KeySealer
from sceau.pki.service import ServicePki
from sceau.settings import Settings
from sceau.web.sessions import end_person_sessions

RECOVERY_CODES = 10
RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECOVERY_HALF = 5


def totp_purpose(person_id: str) -> str:
    return f"person-totp:{person_id}"


PERSON_LINKS = EnrolmentLinks(
    model=EnrolmentToken,
    owner_model=Person,
    owner_column="person_id",
    totp_purpose=totp_purpose,
)


@dataclass(frozen=True)
class Invitation:
    person: Person
    link: str
    expires_at: datetime


@dataclass(frozen=True)
class EnrolmentStart:
    """What the enrolment page shows: the QR code's URI and its secret."""

    person: Person
    secret: str
    provisioning_uri: str


# -- registration and invitation ---------------------------------------------------


def create_person(
    session: Session,
    pki: ServicePki,
    sealer: KeySealer,
    settings: Settings,
    *,
    name: str,
    email: str,
    profession: str,
    client_id: str | None,
    body: str | None = None,
    algorithm: KeyAlgorithm = "rsa3072",
    by: Actor,
    now: datetime | None = None,
) -> Invitation:
    """A person with their ``09-…`` identity, invited by e-mail to enrol.

    Without ``client_id`` the person is an individual professional (a notary
    in their own office): they get a client account of their own, on the free
    notaries' plan for a notary, which carries their usage and billing.
    ``by`` is who registers them, for the audit trail."""
    name = normalise_label(name)
    email = _checked_email(email)
    if not name:
        raise InvalidPerson("Le nom de la personne est obligatoire.")
    if profession not in PROFESSIONS:
        raise InvalidPerson(
            f"Profession inconnue : {profession} ; valeurs admises : "
            f"{', '.join(PROFESSIONS)}."
        )
    if session.scalar(select(Person.id).where(Person.email == email)) is not None:
        raise EmailTaken()
    if client_id is None:
        plan = "gratuit_notaire" if profession == "notaire" else "pay_as_you_go"
        # A professional's own account is no integration: it opens at once.
        client = create_client(
            session, name, plan, state=PRODUCTION, actor="inscription", by=by
        )
    else:
        client = get_client(session, client_id)

    identity = issue_identity(
        session,
        pki,
        sealer,
        code=choose_code(session, PERSON_PREFIX, body),
        kind=KIND_PERSON,
        client_id=client.id,
        label=name,
        organisation=client.name,
        algorithm=algorithm,
        by=by,
    )
    person = Person(
        id="per_" + secrets.token_hex(12),
        name=name,
        email=email,
        profession=profession,
        client_id=client.id,
        code_09=identity.code_09,
        failed_logins=0,
        created_at=now or utcnow(),
    )
    session.add(person)
    session.flush()
    record(
        session,
        actions.PERSONNE_CREEE,
        actor=by,
        subject=person.code_09,
        objects={"identite": person.code_09, "personne": person.id},
        details={"profession": profession},
        client_id=client.id,
        now=person.created_at,
    )
    return invite(session, settings, person, now=now)


def invite(
    session: Session, settings: Settings, person: Person, *, now: datetime | None = None
) -> Invitation:
    """A new single-use enrolment link, e-mailed; earlier links stop working."""
    now = now or utcnow()
    token, expires_at = PERSON_LINKS.issue(session, settings, person.id, now=now)
    link = f"{settings.public_base_url}/signer/inscription/{token}"

    event = record_event(
        session,
        client_id=person.client_id,
        type=types.PERSONNE_INVITEE,
        data={
            "nom": person.name,
            "code_09": person.code_09,
            "profession": person.profession,
            "lien": link,
            "expire_le": expires_at.strftime("%d/%m/%Y à %H:%M UTC"),
        },
        subject=person.id,
        webhooks=False,
        now=now,
    )
    queue_email(session, event, person.email, now=now)
    session.flush()
    return Invitation(person, link, expires_at)


def reset_person(
    session: Session,
    settings: Settings,
    code_09: str,
    *,
    by: Actor,
    now: datetime | None = None,
) -> Invitation:
    """The operator's reset: password, TOTP and recovery codes cleared, the lock
    lifted, and a new enrolment link sent. ``by`` is who resets, for the
    audit trail."""
    now = now or utcnow()
    person = get_person(session, code_09)
    clear_credentials(person)
    session.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
    ended = end_person_sessions(session, person.id)
    record(
        session,
        actions.COMPTE_REINITIALISE,
        actor=by,
        subject=person.code_09,
        objects={"identite": person.code_09, "personne": person.id},
        details={"compte": "signataire", "sessions_fermees": ended},
        client_id=person.client_id,
        now=now,
    )
    return invite(session, settings, person, now=now)


def get_person(session: Session, code_09: str) -> Person:
    try:
        code = parse_code(code_09.strip().upper())
    except InvalidCode as exc:
        raise InvalidPerson(str(exc), code="code_09_invalide") from exc
    if code.is_system:
        raise PersonNotFound("Ce code_09 est celui d'un système, pas d'une personne.")
    person = session.scalar(select(Person).where(Person.code_09 == str(code)))
    if person is None:
        raise PersonNotFound()
    return person


def person_of_client(
    session: Session, client_id: str, code_09: str, *, system_code_error: SceauError
) -> Person:
    """The person of ``client_id`` whose identity is ``code_09``, checked in
    the order the signing route checks an identity: form, existence,
    ownership, kind (``system_code_error`` for a system's code), state."""
    try:
        code = parse_code(code_09.strip().upper())
    except InvalidCode as exc:
        raise MalformedCode(str(exc)) from exc

    identity = session.get(Identity, str(code))
    if identity is None:
        raise UnknownIdentity()
    if identity.client_id != client_id:
        raise IdentityOfAnotherClient()
    if identity.kind != KIND_PERSON:
        raise system_code_error
    if identity.revoked_at is not None:
        raise IdentityRevoked()
    person = session.scalar(select(Person).where(Person.code_09 == identity.code_09))
    if person is None:  # pragma: no cover - a personal identity has its person
        raise UnknownIdentity()
    return person


def list_persons(session: Session, client_id: str | None = None) -> list[Person]:
    query = select(Person).order_by(Person.created_at, Person.id)
    if client_id is not None:
        query = query.where(Person.client_id == client_id)
    return list(session.scalars(query))


# -- enrolment -------------------------------------------------------------------


def start_enrolment(
    session: Session, sealer: KeySealer, token: str, *, now: datetime | None = None
) -> EnrolmentStart:
    """The TOTP secret to scan; the same one on every visit of the link."""
    person, secret = PERSON_LINKS.pending_secret(
        session, sealer, token, now=now or utcnow()
    )
    uri = totp.provisioning_uri(secret, account=f"{person.code_09} ({person.email})")
    return EnrolmentStart(person, secret, uri)


def finish_enrolment(
    session: Session,
    sealer: KeySealer,
    settings: Settings,
    token: str,
    *,
    password: str,
    first_code: str,
    address: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Set the password and the TOTP secret, close the link; the recovery codes,
    to be shown once. ``address`` is where the enrolment came from."""
    now = now or utcnow()
    person = PERSON_LINKS.finish(
        session,
        sealer,
        settings,
        token,
        password=password,
        first_code=first_code,
        now=now,
    )
    record(
        session,
        actions.COMPTE_ACTIVE,
        actor=Actor.person(person.code_09, person.id, address),
        subject=person.code_09,
        objects={"identite": person.code_09},
        details={"methode": "mot_de_passe+totp"},
        client_id=person.client_id,
        now=now,
    )
    return _replace_recovery_codes(session, person.id)


def _replace_recovery_codes(session: Session, person_id: str) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person_id))
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(
        RecoveryCode(person_id=person_id, code_hash=digest(normalise_recovery(c)))
        for c in codes
    )
    session.flush()
    return codes


def _recovery_code() -> str:
    # Ten characters of 31 (about 50 bits), shown as two groups of five.
    chars = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(2 * RECOVERY_HALF))
    return f"{chars[:RECOVERY_HALF]}-{chars[RECOVERY_HALF:]}"


def normalise_recovery(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def _checked_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.rpartition("@")
    if not local or "." not in domain or any(c.isspace() for c in email):
        raise InvalidPerson(f"Adresse e-mail invalide : {email!r}.")
    return email
