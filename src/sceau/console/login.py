"""A console user's login: password, then a TOTP code.

As for people (``sceau.people.login``): the password is checked outside any
write transaction, the TOTP step, the failure count and the lock are decided
by single UPDATE statements, so that two logins at once cannot both use one
step. Failures by source address share the people's table and limit: one
address guessing at both login forms is one address guessing.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from sceau.console.models import ConsoleUser
from sceau.console.users import totp_purpose
from sceau.db import Database, utcnow
from sceau.errors import SceauError
from sceau.people import totp
from sceau.people.errors import (
    AccountLocked,
    LoginRefused,
    TooManyLoginAttempts,
    TotpReplayed,
)
from sceau.people.models import LoginFailure
from sceau.people.passwords import PasswordKeeper
from sceau.pki.keystore import KeySealer
from sceau.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedIn:
    user_id: str


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
    with db.sessions() as session:
        _refuse_busy_address(session, settings, address, now)
        user = session.scalar(
            select(ConsoleUser).where(ConsoleUser.email == email.strip().lower())
        )
        if user is not None and _locked(user, now):
            raise _locked_error(user, now)
        step = _check(sealer, keeper, user, password, code, now)

    # Claim the step, or count the failure.
    with db.transaction() as session:
        if user is not None and step is not None and _claim(session, user, step, now):
            session.execute(
                update(ConsoleUser)
                .where(ConsoleUser.id == user.id)
                .values(failed_logins=0)
            )
            logger.info("console.login", extra={"user": user.id})
            return LoggedIn(user.id)
        failure: SceauError = _record_failure(session, settings, user, address, now)
        if user is not None and step is not None and (user.totp_last_step or 0) >= step:
            failure = failure if isinstance(failure, AccountLocked) else TotpReplayed()
    logger.info("console.login_refused", extra={"code": failure.code})
    raise failure


def _refuse_busy_address(
    session: Session, settings: Settings, address: str, now: datetime
) -> None:
    window = timedelta(minutes=settings.person_address_failure_window_minutes)
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.address == address, LoginFailure.at > now - window
        )
    ).one()
    if count >= settings.person_address_failure_limit:
        retry = max(1, math.ceil((oldest + window - now).total_seconds()))
        raise TooManyLoginAttempts(retry_after=retry)


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
        # The same work as a real check, so that timing tells nothing.
        keeper.matches(_decoy(keeper), password)
        return None
    if not keeper.matches(user.password_hash, password):
        return None
    secret = sealer.unseal_bytes(user.totp_secret_sealed, totp_purpose(user.id))
    return totp.matching_step(secret.decode(), code, now)


@lru_cache(maxsize=4)
def _decoy_for(time_cost: int, memory_cost: int, parallelism: int) -> str:
    keeper = PasswordKeeper.of_parameters(time_cost, memory_cost, parallelism)
    return keeper.hash("a decoy, never anyone's password")


def _decoy(keeper: PasswordKeeper) -> str:
    hasher = keeper.hasher
    return _decoy_for(hasher.time_cost, hasher.memory_cost, hasher.parallelism)


def _locked(user: ConsoleUser, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _locked_error(user: ConsoleUser, now: datetime) -> AccountLocked:
    assert user.locked_until is not None
    seconds = math.ceil((user.locked_until - now).total_seconds())
    return AccountLocked(retry_after=max(1, seconds))


def _claim(session: Session, user: ConsoleUser, step: int, now: datetime) -> bool:
    """Take the step, unless it or a later one was used already (a replay) or
    the account was locked meanwhile."""
    claimed = session.execute(
        update(ConsoleUser)
        .where(
            ConsoleUser.id == user.id,
            or_(ConsoleUser.locked_until.is_(None), ConsoleUser.locked_until <= now),
            or_(
                ConsoleUser.totp_last_step.is_(None),
                ConsoleUser.totp_last_step < step,
            ),
        )
        .values(totp_last_step=step)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def _record_failure(
    session: Session,
    settings: Settings,
    user: ConsoleUser | None,
    address: str,
    now: datetime,
) -> LoginRefused | AccountLocked:
    session.add(
        LoginFailure(address=address, person_id=user.id if user else None, at=now)
    )
    window = timedelta(minutes=settings.person_address_failure_window_minutes)
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - window))
    if user is None:
        return LoginRefused()

    failures = session.execute(
        update(ConsoleUser)
        .where(ConsoleUser.id == user.id)
        .values(failed_logins=ConsoleUser.failed_logins + 1)
        .returning(ConsoleUser.failed_logins)
    ).scalar_one()
    if failures < settings.person_lock_after_failures:
        return LoginRefused()

    until = now + timedelta(minutes=settings.person_lock_minutes)
    session.execute(
        update(ConsoleUser)
        .where(ConsoleUser.id == user.id)
        .values(failed_logins=0, locked_until=until)
    )
    logger.warning("console.user_locked", extra={"user": user.id})
    return AccountLocked(retry_after=max(1, math.ceil((until - now).total_seconds())))
