"""A person's login: password, then a TOTP code (or a recovery code).

The password is checked outside any write transaction (Argon2id takes tens of
milliseconds); what must be atomic, the TOTP step, the recovery code, the
failure count and the lock, is decided by single UPDATE statements, so that
two logins at once cannot both use one step or one recovery code.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from sceau.db import Database, utcnow
from sceau.errors import SceauError
from sceau.events import types
from sceau.events.service import queue_email, record_event
from sceau.identities.codes import InvalidCode, parse_code
from sceau.people import totp
from sceau.people.errors import (
    AccountLocked,
    LoginRefused,
    PersonUnavailable,
    TooManyLoginAttempts,
    TotpReplayed,
    WrongTotpCode,
)
from sceau.people.models import LoginFailure, Person, RecoveryCode
from sceau.people.passwords import PasswordKeeper
from sceau.people.service import digest, normalise_recovery, totp_purpose
from sceau.pki.keystore import KeySealer
from sceau.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedIn:
    person_id: str
    code_09: str
    name: str
    used_recovery_code: bool


@dataclass(frozen=True)
class _Checked:
    """What the read phase found, for the write phase to commit."""

    person: Person | None
    password_ok: bool
    totp_step: int | None
    recovery_hash: str | None


def verify_login(
    db: Database,
    sealer: KeySealer,
    settings: Settings,
    *,
    login: str,
    password: str,
    second_factor: str,
    address: str,
    now: datetime | None = None,
) -> LoggedIn:
    """Log a person in by e-mail or ``09-…`` code, or raise ``LoginRefused``,
    ``AccountLocked`` or ``TooManyLoginAttempts``."""
    now = now or utcnow()
    keeper = PasswordKeeper.of(settings)

    with db.sessions() as session:
        _refuse_busy_address(session, settings, address, now)
        person = _find(session, login)
        if person is not None and _locked(person, now):
            raise _locked_error(person, now)
        checked = _check(session, sealer, keeper, person, password, second_factor, now)

    with db.transaction() as session:
        outcome = _commit(session, settings, keeper, checked, password, address, now)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def confirm_with_totp(
    db: Database,
    sealer: KeySealer,
    settings: Settings,
    *,
    person_id: str,
    code: str,
    now: datetime | None = None,
) -> int:
    """A fresh TOTP code for one act of consequence (a signature): the step it
    matched, claimed so that it can never serve again. A wrong code counts
    towards the lock like a failed login; a code of a step already used (the
    one that logged in, say) is refused as a replay. Recovery codes are for
    logging in only."""
    now = now or utcnow()
    with db.sessions() as session:
        person = session.get(Person, person_id)
        if person is None or not person.enrolled:
            raise PersonUnavailable()
        if _locked(person, now):
            raise _locked_error(person, now)
        assert person.totp_secret_sealed is not None
        secret = sealer.unseal_bytes(person.totp_secret_sealed, totp_purpose(person.id))
    step = totp.matching_step(secret.decode(), code, now)

    with db.transaction() as session:
        if step is not None and _claim_second_factor(
            session, person, _Checked(person, True, step, None), now
        ):
            return step
        if step is not None and (person.totp_last_step or 0) >= step:
            failure: SceauError = TotpReplayed()
        else:
            counted = _count_failure(session, settings, person, now)
            locked = isinstance(counted, AccountLocked)
            failure = counted if locked else WrongTotpCode()  # type: ignore[assignment]
    logger.info(
        "person.totp_refused", extra={"person": person_id, "code": failure.code}
    )
    raise failure


# -- reading and checking -----------------------------------------------------------


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


def _find(session: Session, login: str) -> Person | None:
    login = login.strip()
    if "@" in login:
        return session.scalar(select(Person).where(Person.email == login.lower()))
    try:
        code = parse_code(login.upper())
    except InvalidCode:
        return None
    return session.scalar(select(Person).where(Person.code_09 == str(code)))


def _check(
    session: Session,
    sealer: KeySealer,
    keeper: PasswordKeeper,
    person: Person | None,
    password: str,
    second_factor: str,
    now: datetime,
) -> _Checked:
    if person is None or person.password_hash is None:
        # The same work as a real check, so that timing tells nothing.
        keeper.matches(_decoy_hash(keeper), password)
        return _Checked(person, False, None, None)
    if not keeper.matches(person.password_hash, password):
        return _Checked(person, False, None, None)
    assert person.totp_secret_sealed is not None

    secret = sealer.unseal_bytes(person.totp_secret_sealed, totp_purpose(person.id))
    step = totp.matching_step(secret.decode(), second_factor, now)
    if step is not None:
        return _Checked(person, True, step, None)
    recovery = digest(normalise_recovery(second_factor))
    known = session.scalar(
        select(RecoveryCode.id).where(
            RecoveryCode.person_id == person.id,
            RecoveryCode.code_hash == recovery,
            RecoveryCode.used_at.is_(None),
        )
    )
    return _Checked(person, True, None, recovery if known is not None else None)


@lru_cache(maxsize=4)
def _decoy_for(time_cost: int, memory_cost: int, parallelism: int) -> str:
    keeper = PasswordKeeper.of_parameters(time_cost, memory_cost, parallelism)
    return keeper.hash("a decoy, never anyone's password")


def _decoy_hash(keeper: PasswordKeeper) -> str:
    hasher = keeper.hasher
    return _decoy_for(hasher.time_cost, hasher.memory_cost, hasher.parallelism)


def _locked(person: Person, now: datetime) -> bool:
    return person.locked_until is not None and person.locked_until > now


def _locked_error(person: Person, now: datetime) -> AccountLocked:
    assert person.locked_until is not None
    seconds = math.ceil((person.locked_until - now).total_seconds())
    return AccountLocked(retry_after=max(1, seconds))


# -- committing ------------------------------------------------------------------


def _commit(
    session: Session,
    settings: Settings,
    keeper: PasswordKeeper,
    checked: _Checked,
    password: str,
    address: str,
    now: datetime,
) -> LoggedIn | Exception:
    person = checked.person
    if (
        person is not None
        and checked.password_ok
        and _claim_second_factor(session, person, checked, now)
    ):
        _forget_failures(session, person, keeper, password)
        logger.info("person.login", extra={"person": person.id})
        return LoggedIn(
            person.id, person.code_09, person.name, checked.recovery_hash is not None
        )

    session.add(
        LoginFailure(address=address, person_id=person.id if person else None, at=now)
    )
    window = timedelta(minutes=settings.person_address_failure_window_minutes)
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - window))
    if person is None:
        return LoginRefused()
    logger.info("person.login_refused", extra={"person": person.id})
    return _count_failure(session, settings, person, now)


def _claim_second_factor(
    session: Session, person: Person, checked: _Checked, now: datetime
) -> bool:
    unlocked = or_(Person.locked_until.is_(None), Person.locked_until <= now)
    if checked.totp_step is not None:
        # Refuses the step if it, or a later one, was used already: a replay.
        claimed = session.execute(
            update(Person)
            .where(
                Person.id == person.id,
                unlocked,
                or_(
                    Person.totp_last_step.is_(None),
                    Person.totp_last_step < checked.totp_step,
                ),
            )
            .values(totp_last_step=checked.totp_step)
        )
        return bool(claimed.rowcount)  # type: ignore[attr-defined]
    if checked.recovery_hash is not None:
        claimed = session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.person_id == person.id,
                RecoveryCode.code_hash == checked.recovery_hash,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
        )
        still_unlocked = session.scalar(
            select(Person.id).where(Person.id == person.id, unlocked)
        )
        return bool(claimed.rowcount) and still_unlocked is not None  # type: ignore[attr-defined]
    return False


def _forget_failures(
    session: Session, person: Person, keeper: PasswordKeeper, password: str
) -> None:
    values: dict[str, object] = {"failed_logins": 0}
    assert person.password_hash is not None
    if keeper.needs_rehash(person.password_hash):
        values["password_hash"] = keeper.hash(password)
    session.execute(update(Person).where(Person.id == person.id).values(**values))


def _count_failure(
    session: Session, settings: Settings, person: Person, now: datetime
) -> Exception:
    failures = session.execute(
        update(Person)
        .where(Person.id == person.id)
        .values(failed_logins=Person.failed_logins + 1)
        .returning(Person.failed_logins)
    ).scalar_one()
    if failures < settings.person_lock_after_failures:
        return LoginRefused()

    until = now + timedelta(minutes=settings.person_lock_minutes)
    # Only the attempt that sets the lock sends the e-mail.
    locked = session.execute(
        update(Person)
        .where(
            Person.id == person.id,
            Person.failed_logins >= settings.person_lock_after_failures,
        )
        .values(failed_logins=0, locked_until=until)
    )
    if locked.rowcount:  # type: ignore[attr-defined]
        _tell_locked(session, person, failures, until, now)
        logger.warning("person.locked", extra={"person": person.id})
    return AccountLocked(retry_after=max(1, math.ceil((until - now).total_seconds())))


def _tell_locked(
    session: Session, person: Person, failures: int, until: datetime, now: datetime
) -> None:
    event = record_event(
        session,
        client_id=person.client_id,
        type=types.PERSONNE_VERROUILLEE,
        data={
            "nom": person.name,
            "code_09": person.code_09,
            "echecs": failures,
            "verrouille_jusqu_au": until.strftime("%d/%m/%Y à %H:%M UTC"),
        },
        subject=person.id,
        webhooks=False,
        now=now,
    )
    queue_email(session, event, person.email, now=now)
