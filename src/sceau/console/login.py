"""A console user's login: password, then a TOTP code.

As for people (``sceau.people.login``), and on the same rules
(``sceau.people.login_rules``): the password is checked outside any write
transaction, the TOTP step, the failure count and the lock are decided by
single UPDATE statements, so that two logins at once cannot both use one step.
Failures by source address share the people's table and limit: one address
guessing at both login forms is one address guessing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record
from sceau.console.models import ConsoleUser
from sceau.console.users import totp_purpose
from sceau.db import Database, utcnow
from sceau.errors import SceauError
from sceau.people import totp
from sceau.people.errors import AccountLocked, LoginRefused, TotpReplayed
from sceau.people.login_rules import (
    check_decoy_password,
    claim_totp_step,
    count_failed_login,
    lock_until,
    locked_error,
    record_address_failure,
    refuse_busy_address,
    refuse_locked,
    typed_login,
)
from sceau.people.passwords import PasswordKeeper
from sceau.pki.keystore import KeySealer
from sceau.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedIn:
    user_id: str
    client_id: str | None = None


def verify_login(
    db: Database,
    sealer: KeySealer,
    settings: Settings,
    *,
    email: str,
    password: str,
    code: str,
    address: str,
    now: datetime | None = None,
) -> LoggedIn:
    """The user, or ``LoginRefused``, ``TotpReplayed``, ``AccountLocked``,
    ``TooManyLoginAttempts``."""
    now = now or utcnow()
    keeper = PasswordKeeper.of(settings)

    # Read and check, without holding a write transaction.
    # A busy address or a locked account is refused before any write, the
    # audit trail's included (see ``sceau.people.login``).
    with db.sessions() as session:
        refuse_busy_address(session, settings, address, now)
        user = session.scalar(
            select(ConsoleUser).where(ConsoleUser.email == email.strip().lower())
        )
        if user is not None:
            refuse_locked(user, now)
        step = _check(sealer, keeper, user, password, code, now)

    # Claim the step, or count the failure.
    with db.transaction() as session:
        if (
            user is not None
            and step is not None
            and claim_totp_step(session, ConsoleUser, user.id, step, now)
        ):
            session.execute(
                update(ConsoleUser)
                .where(ConsoleUser.id == user.id)
                .values(failed_logins=0)
            )
            logger.info("console.login", extra={"user": user.id})
            return LoggedIn(user.id, user.client_id)
        failure: SceauError = _record_failure(session, settings, user, address, now)
        if user is not None and step is not None and (user.totp_last_step or 0) >= step:
            failure = failure if isinstance(failure, AccountLocked) else TotpReplayed()
        record(
            session,
            actions.CONSOLE_CONNEXION_ECHOUEE,
            **_failure_fields(user, email, address, _reason(user, step), failure, now),
        )
    logger.info("console.login_refused", extra={"code": failure.code})
    raise failure


def record_login(
    session: Session,
    logged_in: LoggedIn,
    *,
    address: str,
    session_ref: str,
    now: datetime,
) -> None:
    """``console.connexion.reussie``, in the transaction that opens the
    session; ``session_ref`` names the session without being its cookie."""
    record(
        session,
        actions.CONSOLE_CONNEXION_REUSSIE,
        actor=Actor.console_user(logged_in.user_id, logged_in.client_id, address),
        subject=logged_in.user_id,
        details={"methode": "mot_de_passe+totp", "session": session_ref},
        now=now,
    )


def record_logout(
    session: Session,
    *,
    user_id: str,
    client_id: str | None,
    address: str,
    session_ref: str,
    now: datetime,
) -> None:
    """``deconnexion`` of a console user, in the transaction that ends the
    session."""
    record(
        session,
        actions.DECONNEXION,
        actor=Actor.console_user(user_id, client_id, address),
        subject=user_id,
        details={"session": session_ref},
        now=now,
    )


def _reason(user: ConsoleUser | None, step: int | None) -> str:
    """Why a login that reached the checks failed, for the trail."""
    if user is None or user.password_hash is None:
        return "compte_inconnu"
    if step is not None:
        return "code_totp_deja_utilise"
    # The password or the code: ``_check`` does not say which, and the trail
    # need not either.
    return "mot_de_passe_ou_code_incorrect"


def _failure_fields(
    user: ConsoleUser | None,
    email: str,
    address: str,
    reason: str,
    error: SceauError,
    now: datetime,
) -> dict[str, Any]:
    """A ``console.connexion.echouee`` entry: who tried (an unknown e-mail
    address only when it reads as one, never anything else typed), why it
    failed, what the page answered."""
    if user is not None:
        actor = Actor.console_user(user.id, user.client_id, address)
    else:
        actor = Actor.console_user(typed_login(email), None, address)
    return {
        "actor": actor,
        "subject": user.id if user is not None else None,
        "details": {"motif": reason, "erreur": error.code},
        "client_id": user.client_id if user is not None else None,
        "now": now,
    }


def _check(
    sealer: KeySealer,
    keeper: PasswordKeeper,
    user: ConsoleUser | None,
    password: str,
    code: str,
    now: datetime,
) -> int | None:
    """The TOTP step matched, when the password is right too."""
    if user is None or user.password_hash is None or user.totp_secret_sealed is None:
        check_decoy_password(keeper, password)
        return None
    if not keeper.matches(user.password_hash, password):
        return None
    secret = sealer.unseal_bytes(user.totp_secret_sealed, totp_purpose(user.id))
    return totp.matching_step(secret.decode(), code, now)


def _record_failure(
    session: Session,
    settings: Settings,
    user: ConsoleUser | None,
    address: str,
    now: datetime,
) -> LoginRefused | AccountLocked:
    record_address_failure(session, settings, address, user.id if user else None, now)
    if user is None:
        return LoginRefused()

    failures = count_failed_login(session, ConsoleUser, user.id)
    if failures < settings.person_lock_after_failures:
        return LoginRefused()

    until = lock_until(settings, now)
    session.execute(
        update(ConsoleUser)
        .where(ConsoleUser.id == user.id)
        .values(failed_logins=0, locked_until=until)
    )
    record(
        session,
        actions.COMPTE_VERROUILLE,
        actor=Actor.console_user(user.id, user.client_id, address),
        subject=user.id,
        details={"echecs": failures, "verrouille_jusqu_au": until},
        now=now,
    )
    logger.warning("console.user_locked", extra={"user": user.id})
    return locked_error(until, now)
