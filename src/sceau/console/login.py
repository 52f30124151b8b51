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

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
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
)
from sceau.people.login_trail import (
    TrailAccount,
    record_failure,
    record_lock,
    record_unknown_attempt,
)
from sceau.people.login_trail import record_login as trail_login
from sceau.people.login_trail import record_logout as trail_logout
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
        failure: SceauError = _count_failure(session, settings, user, address, now)
        if user is not None:
            replayed = step is not None and (user.totp_last_step or 0) >= step
            if replayed and not isinstance(failure, AccountLocked):
                failure = TotpReplayed()
            record_failure(
                session,
                actions.CONSOLE_CONNEXION_ECHOUEE,
                _trail_account(user.id, user.client_id, address),
                reason=_reason(user, step),
                error=failure,
                now=now,
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
    trail_login(
        session,
        actions.CONSOLE_CONNEXION_REUSSIE,
        _trail_account(logged_in.user_id, logged_in.client_id, address),
        method="mot_de_passe+totp",
        session_ref=session_ref,
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
    """``console.deconnexion``, in the transaction that ends the session."""
    trail_logout(
        session,
        actions.CONSOLE_DECONNEXION,
        _trail_account(user_id, client_id, address),
        session_ref=session_ref,
        now=now,
    )


def _trail_account(user_id: str, client_id: str | None, address: str) -> TrailAccount:
    return TrailAccount(
        actor=Actor.console_user(user_id, client_id, address),
        subject=user_id,
        objects={},
        client_id=client_id,
    )


def _reason(user: ConsoleUser, step: int | None) -> str:
    """Why a login on a known account failed, for the trail."""
    if user.password_hash is None or user.totp_secret_sealed is None:
        return "compte_non_active"
    if step is not None:
        return "code_totp_deja_utilise"
    # The password or the code: ``_check`` does not say which, and the trail
    # need not either.
    return "mot_de_passe_ou_code_incorrect"


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


def _count_failure(
    session: Session,
    settings: Settings,
    user: ConsoleUser | None,
    address: str,
    now: datetime,
) -> LoginRefused | AccountLocked:
    """The failure counted for the address and the user, the lock it sets;
    what the page answers."""
    source = record_address_failure(
        session, settings, address, user.id if user else None, now
    )
    if user is None:
        # What was typed is an e-mail address, never kept; the attempt is
        # summed up with the address's others (``sceau.people.login_trail``).
        record_unknown_attempt(session, settings, address, source, now)
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
    record_lock(
        session,
        _trail_account(user.id, user.client_id, address),
        failures=failures,
        until=until,
        now=now,
    )
    logger.warning("console.user_locked", extra={"user": user.id})
    return locked_error(until, now)
