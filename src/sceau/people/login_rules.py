"""The rules every login form follows, whatever account it opens: a person of
the web signer (``sceau.people.login``) or a console user
(``sceau.console.login``).

A busy source address is refused before any check; a missing account costs
the same Argon2id work as a real one; a lock is a time in ``locked_until``;
a TOTP step is claimed by a single UPDATE, so that two logins at once cannot
both use it; each failure is kept per address, in one table for both forms, so
that one address guessing at both is one address guessing.

``model`` is the mapped account class (``Person``, ``ConsoleUser``): it has
``id``, ``locked_until``, ``totp_last_step`` and ``failed_logins``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from sceau.identities.codes import InvalidCode, parse_code
from sceau.people.errors import AccountLocked, TooManyLoginAttempts
from sceau.people.models import LoginFailure
from sceau.people.passwords import PasswordKeeper
from sceau.settings import Settings

# An e-mail address as people type theirs: a plain local part, a domain of
# letters, digits and hyphens, a top-level domain of letters.
_EMAIL = re.compile(r"[a-z0-9][a-z0-9._%+-]{0,63}@(?:[a-z0-9-]{1,63}\.)+[a-z]{2,24}")
UNKNOWN_LOGIN = "inconnu"


class Lockable(Protocol):
    @property
    def locked_until(self) -> datetime | None: ...


def refuse_busy_address(
    session: Session, settings: Settings, address: str, now: datetime
) -> None:
    """``TooManyLoginAttempts`` if ``address`` failed too often lately."""
    window = timedelta(minutes=settings.person_address_failure_window_minutes)
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.address == address, LoginFailure.at > now - window
        )
    ).one()
    if count >= settings.person_address_failure_limit:
        retry = max(1, math.ceil((oldest + window - now).total_seconds()))
        raise TooManyLoginAttempts(retry_after=retry)


def typed_login(typed: str) -> str:
    """What the audit trail may keep of the identifier typed for an account
    that does not exist: a 09 code, or a well-formed e-mail address, cut to
    64 characters; anything else may be a password typed in the wrong field,
    and is kept as ``inconnu``."""
    typed = typed.strip()
    try:
        return str(parse_code(typed.upper()))
    except InvalidCode:
        pass
    lowered = typed.lower()
    if len(lowered) <= 254 and _EMAIL.fullmatch(lowered):
        return lowered[:64]
    return UNKNOWN_LOGIN


def check_decoy_password(keeper: PasswordKeeper, password: str) -> None:
    """The same work as a real check, so that timing tells nothing about
    whether the account exists."""
    hasher = keeper.hasher
    decoy = _decoy_for(hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    keeper.matches(decoy, password)


@lru_cache(maxsize=4)
def _decoy_for(time_cost: int, memory_cost: int, parallelism: int) -> str:
    keeper = PasswordKeeper.of_parameters(time_cost, memory_cost, parallelism)
    return keeper.hash("a decoy, never anyone's password")


def refuse_locked(account: Lockable, now: datetime) -> None:
    """``AccountLocked`` while a lock holds the account."""
    if account.locked_until is not None and account.locked_until > now:
        raise locked_error(account.locked_until, now)


def locked_error(until: datetime, now: datetime) -> AccountLocked:
    """``AccountLocked``, telling how long the lock still lasts."""
    return AccountLocked(retry_after=max(1, math.ceil((until - now).total_seconds())))


def unlocked(model: Any, now: datetime) -> Any:
    """The condition an account row meets when no lock holds it."""
    return or_(model.locked_until.is_(None), model.locked_until <= now)


def claim_totp_step(
    session: Session, model: Any, account_id: str, step: int, now: datetime
) -> bool:
    """Take the step, unless it or a later one was used already (a replay) or
    the account was locked meanwhile."""
    claimed = session.execute(
        update(model)
        .where(
            model.id == account_id,
            unlocked(model, now),
            or_(model.totp_last_step.is_(None), model.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def record_address_failure(
    session: Session,
    settings: Settings,
    address: str,
    account_id: str | None,
    now: datetime,
) -> None:
    """One more failure from ``address``; those past the window go."""
    session.add(LoginFailure(address=address, person_id=account_id, at=now))
    window = timedelta(minutes=settings.person_address_failure_window_minutes)
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - window))


def count_failed_login(session: Session, model: Any, account_id: str) -> int:
    """One more failure for the account; how many in a row now."""
    return int(
        session.execute(
            update(model)
            .where(model.id == account_id)
            .values(failed_logins=model.failed_logins + 1)
            .returning(model.failed_logins)
        ).scalar_one()
    )


def lock_until(settings: Settings, now: datetime) -> datetime:
    """When a lock set now ends."""
    return now + timedelta(minutes=settings.person_lock_minutes)
