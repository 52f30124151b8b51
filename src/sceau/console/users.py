"""Console users: creation by the operator, enrolment through a single-use
link (password and TOTP, under the people's policy), reset.

The link is printed by the CLI for the operator to hand over; nothing is
e-mailed, since the operator's own users belong to no client to write as.
Every function works in the caller's transaction and takes ``now``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record
from sceau.clients.service import get_client
from sceau.console.errors import (
    ConsoleEmailTaken,
    ConsoleUserNotFound,
    InvalidConsoleUser,
)
from sceau.console.models import (
    ROLE_OPERATOR,
    ROLES,
    ConsoleEnrolment,
    ConsoleUser,
)
from sceau.console.sessions import end_user_sessions
from sceau.db import utcnow
from sceau.identities.service import normalise_label
from sceau.people import totp
from sceau.people.enrolment_links import EnrolmentLinks, clear_credentials
from sceau.people.errors import EnrolmentLinkInvalid
from sceau.pki.keystore import KeySealer
from sceau.settings import Settings

ENROLMENT_PATH = "/console/inscription"


def totp_purpose(user_id: str) -> str:
    return f"console-totp:{user_id}"


@dataclass(frozen=True)
class Invitation:
    user: ConsoleUser
    link: str
    expires_at: datetime


@dataclass(frozen=True)
class EnrolmentStart:
    """What the enrolment page shows: the QR code's URI and its secret."""

    user: ConsoleUser
    secret: str
    provisioning_uri: str


# -- creation, listing, reset ------------------------------------------------------


def create_user(
    session: Session,
    settings: Settings,
    *,
    email: str,
    name: str,
    role: str,
    client_id: str | None,
    by: Actor,
    now: datetime | None = None,
) -> Invitation:
    """A user and the link to enrol with. The operator has no client; every
    other role belongs to exactly one. ``by`` is who creates them, for the
    audit trail."""
    name = normalise_label(name)
    email = _checked_email(email)
    if not name:
        raise InvalidConsoleUser("Le nom de l'utilisateur est obligatoire.")
    if role not in ROLES:
        raise InvalidConsoleUser(
            f"Rôle inconnu : {role} ; valeurs admises : {', '.join(ROLES)}."
        )
    if (role == ROLE_OPERATOR) != (client_id is None):
        raise InvalidConsoleUser(
            "Un opérateur n'appartient à aucun client ; un administrateur ou un "
            "lecteur appartient à un client (--client)."
        )
    if client_id is not None:
        get_client(session, client_id)
    if session.scalar(select(ConsoleUser.id).where(ConsoleUser.email == email)):
        raise ConsoleEmailTaken()

    user = ConsoleUser(
        id="cus_" + secrets.token_hex(12),
        client_id=client_id,
        email=email,
        name=name,
        role=role,
        failed_logins=0,
        created_at=now or utcnow(),
    )
    session.add(user)
    session.flush()
    record(
        session,
        actions.CONSOLE_UTILISATEUR_CREE,
        actor=by,
        subject=user.id,
        details={"role": role},
        client_id=client_id,
        now=user.created_at,
    )
    return invite(session, settings, user, now=now)


def invite(
    session: Session,
    settings: Settings,
    user: ConsoleUser,
    *,
    now: datetime | None = None,
) -> Invitation:
    """A new single-use enrolment link; earlier links stop working."""
    now = now or utcnow()
    token, expires_at = CONSOLE_LINKS.issue(session, settings, user.id, now=now)
    session.flush()
    base = settings.public_base_url.rstrip("/")
    return Invitation(user, f"{base}{ENROLMENT_PATH}/{token}", expires_at)


def get_user(session: Session, email: str) -> ConsoleUser:
    user = session.scalar(
        select(ConsoleUser).where(ConsoleUser.email == email.strip().lower())
    )
    if user is None:
        raise ConsoleUserNotFound()
    return user


def list_users(session: Session, client_id: str | None = None) -> list[ConsoleUser]:
    query = select(ConsoleUser).order_by(ConsoleUser.created_at, ConsoleUser.id)
    if client_id is not None:
        query = query.where(ConsoleUser.client_id == client_id)
    return list(session.scalars(query))


def reset_user(
    session: Session,
    settings: Settings,
    email: str,
    *,
    by: Actor,
    now: datetime | None = None,
) -> Invitation:
    """Password and TOTP cleared, the lock lifted, every session ended, and a
    new enrolment link. ``by`` is who resets, for the audit trail."""
    now = now or utcnow()
    user = get_user(session, email)
    clear_credentials(user)
    ended = end_user_sessions(session, user.id)
    record(
        session,
        actions.COMPTE_REINITIALISE,
        actor=by,
        subject=user.id,
        details={"compte": "console", "sessions_fermees": ended},
        client_id=user.client_id,
        now=now,
    )
    return invite(session, settings, user, now=now)


# -- enrolment -------------------------------------------------------------------


def start_enrolment(
    session: Session, sealer: KeySealer, token: str, *, now: datetime | None = None
) -> EnrolmentStart:
    """The TOTP secret to scan; the same one on every visit of the link."""
    user, secret = CONSOLE_LINKS.pending_secret(
        session, sealer, token, now=now or utcnow()
    )
    uri = totp.provisioning_uri(secret, account=f"Console ({user.email})")
    return EnrolmentStart(user, secret, uri)


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
) -> ConsoleUser:
    """Set the password and the TOTP secret (its first code's step used up),
    and close the link. ``address`` is where the enrolment came from."""
    now = now or utcnow()
    user: ConsoleUser = CONSOLE_LINKS.finish(
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
        actions.CONSOLE_COMPTE_ACTIVE,
        actor=Actor.console_user(user.id, user.client_id, address),
        subject=user.id,
        details={"methode": "mot_de_passe+totp"},
        now=now,
    )
    return user


def _invalid_link() -> EnrolmentLinkInvalid:
    return EnrolmentLinkInvalid(
        "Ce lien d'inscription à la console n'est pas (ou plus) valable : "
        "demandez-en un nouveau à l'opérateur Pixel Sceau."
    )


CONSOLE_LINKS = EnrolmentLinks(
    model=ConsoleEnrolment,
    owner_model=ConsoleUser,
    owner_column="user_id",
    totp_purpose=totp_purpose,
    invalid=_invalid_link,
)


def _checked_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.rpartition("@")
    if not local or "." not in domain or any(c.isspace() for c in email):
        raise InvalidConsoleUser(f"Adresse e-mail invalide : {email!r}.")
    return email
