"""Enrolment through a single-use link, for people and console users alike.

The link carries a random token; its table keeps only the SHA-256. The first
visit draws a TOTP secret, kept sealed on the link so that every visit shows
the same QR code; the enrolment sets the password and the secret, the first
code's step used up, and closes the link in the statement that checks it is
still open, so that two submissions of one link cannot both enrol. A new link
closes the earlier ones. Each kind of account keeps its links in its own
table; an ``EnrolmentLinks`` says which one.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sceau.people import totp
from sceau.people.errors import EnrolmentLinkInvalid, WrongTotpCode
from sceau.people.passwords import PasswordKeeper, check_password_policy
from sceau.pki.keystore import KeySealer
from sceau.settings import Settings


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def clear_credentials(account: Any) -> None:
    """Password and TOTP forgotten, the lock lifted: the account must enrol
    again."""
    account.password_hash = None
    account.totp_secret_sealed = None
    account.totp_last_step = None
    account.enrolled_at = None
    account.failed_logins = 0
    account.locked_until = None


@dataclass(frozen=True)
class EnrolmentLinks:
    """Where one kind of account keeps its enrolment links.

    ``model`` is the mapped link class (``token_hash``, ``created_at``,
    ``expires_at``, ``closed_at``, ``pending_totp_sealed`` and the owner's
    column ``owner_column``); ``owner_model`` the account it enrols;
    ``totp_purpose`` seals an account's TOTP secret; ``invalid`` builds the
    error for a link that opens nothing.
    """

    model: Any
    owner_model: Any
    owner_column: str
    totp_purpose: Callable[[str], str]
    invalid: Callable[[], EnrolmentLinkInvalid] = EnrolmentLinkInvalid

    def issue(
        self, session: Session, settings: Settings, owner_id: str, *, now: datetime
    ) -> tuple[str, datetime]:
        """A new link's token and expiry; the owner's earlier links close."""
        self.close_open(session, owner_id, now=now)
        token = secrets.token_urlsafe(32)
        expires_at = now + timedelta(hours=settings.person_enrolment_hours)
        session.add(
            self.model(
                token_hash=digest(token),
                created_at=now,
                expires_at=expires_at,
                **{self.owner_column: owner_id},
            )
        )
        return token, expires_at

    def close_open(self, session: Session, owner_id: str, *, now: datetime) -> None:
        model = self.model
        session.execute(
            update(model)
            .where(getattr(model, self.owner_column) == owner_id)
            .where(model.closed_at.is_(None))
            .values(closed_at=now, pending_totp_sealed=None)
        )

    def open(self, session: Session, token: str, *, now: datetime) -> tuple[Any, Any]:
        """The open link behind ``token`` and its account."""
        row = session.scalar(
            select(self.model).where(self.model.token_hash == digest(token))
        )
        if row is None or row.closed_at is not None or row.expires_at <= now:
            raise self.invalid()
        owner = session.get_one(self.owner_model, getattr(row, self.owner_column))
        return row, owner

    def pending_secret(
        self, session: Session, sealer: KeySealer, token: str, *, now: datetime
    ) -> tuple[Any, str]:
        """The account and its TOTP secret to scan, the same on every visit."""
        row, account = self.open(session, token, now=now)
        purpose = self.totp_purpose(account.id)
        if row.pending_totp_sealed is None:
            secret = totp.new_secret()
            row.pending_totp_sealed = sealer.seal_bytes(secret.encode(), purpose)
            session.flush()
        else:
            secret = sealer.unseal_bytes(row.pending_totp_sealed, purpose).decode()
        return account, secret

    def finish(
        self,
        session: Session,
        sealer: KeySealer,
        settings: Settings,
        token: str,
        *,
        password: str,
        first_code: str,
        now: datetime,
    ) -> Any:
        """Set the account's password and TOTP secret (its first code's step
        used up) and close the link; the account."""
        row, account = self.open(session, token, now=now)
        if row.pending_totp_sealed is None:
            raise EnrolmentLinkInvalid(
                "Commencez l'inscription par l'étape du code QR.",
                code="inscription_non_commencee",
            )
        check_password_policy(password, min_length=settings.person_password_min_length)

        purpose = self.totp_purpose(account.id)
        secret = sealer.unseal_bytes(row.pending_totp_sealed, purpose)
        step = totp.matching_step(secret.decode(), first_code, now)
        if step is None:
            raise WrongTotpCode()

        model = self.model
        closed = session.execute(
            update(model)
            .where(model.id == row.id, model.closed_at.is_(None))
            .values(closed_at=now, pending_totp_sealed=None)
        )
        if closed.rowcount != 1:  # type: ignore[attr-defined]
            raise EnrolmentLinkInvalid()

        clear_credentials(account)
        account.password_hash = PasswordKeeper.of(settings).hash(password)
        account.totp_secret_sealed = sealer.seal_bytes(secret, purpose)
        account.totp_last_step = step
        account.enrolled_at = now
        return account
