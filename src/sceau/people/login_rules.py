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

import ipaddress
import math
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


class Lockable(Protocol):
    @property
    def locked_until(self) -> datetime | None: ...


def refuse_busy_address(
    session: Session, settings: Settings, address: str, now: datetime
) -> None:
    """``TooManyLoginAttempts`` if ``address`` (its /64, for IPv6) failed too
    often lately."""
    window = timedelta(minutes=settings.person_address_failure_window_minutes)
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.address == address_source(address),
            LoginFailure.at > now - window,
        )
    ).one()
    if count >= settings.person_address_failure_limit:
        retry = max(1, math.ceil((oldest + window - now).total_seconds()))
        raise TooManyLoginAttempts(retry_after=retry)


def typed_code(typed: str) -> str | None:
    """What the audit trail may keep of the identifier typed for an account
    that does not exist: a 09 code its check character accepts, and nothing
    else. An e-mail address or any other text may be a password typed in the
    wrong field, or glued to the identifier."""
    try:
        return str(parse_code(typed.strip().upper()))
    except InvalidCode:
        return None


def address_source(address: str) -> str:
    """Whose failures ``address``'s count with: the address itself, or its
    /64 for IPv6, which one client usually holds whole."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    return address


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
) -> str:
    """One more failure from ``address``, kept under its source (see
    ``address_source``), which is returned; those past the window go."""
    source = address_source(address)
    session.add(LoginFailure(address=source, person_id=account_id, at=now))
    window = timedelta(minutes=settings.person_address_failure_window_minutes)
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - window))
    session.flush()
    return source


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
