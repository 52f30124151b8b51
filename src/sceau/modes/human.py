"""Mode *humaine*: a person signs in their own name, logged in to the web
signer and confirming each signature with a fresh TOTP code.

The API never reaches this module on its own: an act prepared by a client's
system (``sceau.acts``) is signed here only when its person confirms it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from sceau.audit.actors import Actor
from sceau.db import iso_utc, utcnow
from sceau.identities.errors import IdentityRevoked
from sceau.identities.models import Identity
from sceau.modes.names import MODE_HUMAN
from sceau.modes.pipeline import (
    SignatureOutcome,
    SigningJob,
    check_document,
    sign_and_record,
)
from sceau.people.errors import PersonUnavailable
from sceau.people.login import confirm_with_totp
from sceau.people.models import Person
from sceau.runtime import Runtime
from sceau.signing.engine import Level
from sceau.signing.models import SignatureRecord
from sceau.signing.seal import SealPlacement

AUTHENTICATION = "session + code TOTP"
MAX_REFUSAL_LENGTH = 500


@dataclass(frozen=True)
class Presence:
    """How the person came to sign, for the audit trail: the address of their
    request, their session (as the trail names it, never its cookie) and
    when it logged in; ``None`` when not known."""

    address: str | None = None
    logged_in_at: datetime | None = None
    session_ref: str | None = None


@dataclass(frozen=True)
class PersonalSignatureRequest:
    person_id: str
    reason: str
    pdf: bytes
    level: Level
    totp_code: str
    request_id: str
    started: float
    callback_url: str | None = None
    event_data: dict[str, object] = field(default_factory=dict)
    # A visible seal chosen in the web signer; None signs invisibly.
    seal: SealPlacement | None = None
    # What the client declared when it prepared the act, and the version of
    # its authority matrix that sent the act to the person.
    act_type: str | None = None
    amount: int | None = None
    matrix_version: int | None = None
    presence: Presence = field(default_factory=Presence)
    # References for the trail's entry (the act, the delegation, the draft).
    audit_objects: dict[str, str] = field(default_factory=dict)


def authentication_details(
    presence: Presence, totp_verified_at: datetime
) -> dict[str, object]:
    """How the person proved it was them, as the audit trail keeps it: the
    session (its login time) and the fresh TOTP code (when it was checked),
    never the code itself."""
    details: dict[str, object] = {
        "authentification": AUTHENTICATION,
        "totp_verifie_le": iso_utc(totp_verified_at),
    }
    if presence.logged_in_at is not None:
        details["connecte_le"] = iso_utc(presence.logged_in_at)
    if presence.session_ref is not None:
        details["session"] = presence.session_ref
    return details


def sign_as_person(
    runtime: Runtime,
    request: PersonalSignatureRequest,
    *,
    within: Callable[[Session, SignatureRecord], None] | None = None,
    now: datetime | None = None,
) -> SignatureOutcome:
    """Check the document, the person and their fresh TOTP code, then sign
    with the person's own key; ``within`` runs in the storing transaction."""
    check_document(runtime, request.pdf, request.callback_url)
    with runtime.db.sessions() as session:
        person, identity = personal_identity(session, request.person_id)

    now = now or utcnow()
    confirm_with_totp(
        runtime.db,
        runtime.sealer,
        runtime.settings,
        person_id=person.id,
        code=request.totp_code,
        address=request.presence.address,
        now=now,
    )
    return sign_and_record(
        runtime,
        SigningJob(
            client_id=person.client_id,
            identity=identity,
            mode=MODE_HUMAN,
            reason=request.reason,
            pdf=request.pdf,
            level=request.level,
            request_id=request.request_id,
            started=request.started,
            callback_url=request.callback_url,
            event_data=request.event_data,
            seal=request.seal,
            act_type=request.act_type,
            amount=request.amount,
            matrix_version=request.matrix_version,
            actor=Actor.person(
                identity.code_09, person.id, address=request.presence.address
            ),
            audit_objects=request.audit_objects,
            audit_details=authentication_details(request.presence, now),
        ),
        within=within,
    )


def personal_identity(session: Session, person_id: str) -> tuple[Person, Identity]:
    """The person and the identity they sign with, if both can sign."""
    person = session.get(Person, person_id)
    if person is None or not person.enrolled:
        raise PersonUnavailable()
    identity = session.get_one(Identity, person.code_09)
    if identity.revoked_at is not None:
        raise IdentityRevoked()
    return person, identity


def digest_if_shown(shown_sha256: str, pdf: bytes) -> str | None:
    """The stored document's SHA-256, when it is the one the person's page
    says it showed (``shown_sha256``, case and spaces aside); ``None`` when
    the person was shown another document."""
    stored = hashlib.sha256(pdf).hexdigest()
    if not hmac.compare_digest(shown_sha256.strip().lower().encode(), stored.encode()):
        return None
    return stored


def refusal_reason(typed: str) -> str | None:
    """The reason a person gave for declining, without its surrounding
    spaces; ``None`` when it is empty, too long or holds a NUL."""
    reason = typed.strip()
    if not reason or len(reason) > MAX_REFUSAL_LENGTH or "\x00" in reason:
        return None
    return reason
