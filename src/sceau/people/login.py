"""A person's login: password, then a TOTP code (or a recovery code).

The rules shared with the console's login are in ``sceau.people.login_rules``.
The password is checked outside any write transaction (Argon2id takes tens of
milliseconds); what must be atomic, the TOTP step, the recovery code, the
failure count and the lock, is decided by single UPDATE statements, so that
two logins at once cannot both use one step or one recovery code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
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
    TotpReplayed,
    WrongTotpCode,
)
from sceau.people.login_rules import (
    check_decoy_password,
    claim_totp_step,
    count_failed_login,
    lock_until,
    locked_error,
    record_address_failure,
    refuse_busy_address,
    refuse_locked,
    typed_code,
    unlocked,
)
from sceau.people.login_trail import (
    TrailAccount,
    record_failure,
    record_lock,
    record_unknown_attempt,
)
from sceau.people.login_trail import record_login as trail_login
from sceau.people.login_trail import record_logout as trail_logout
from sceau.people.models import Person, RecoveryCode
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
    client_id: str | None = None

    @property
    def method(self) -> str:
        """How the person proved who they are, as the audit trail says it."""
        second = "code_de_secours" if self.used_recovery_code else "totp"
        return f"mot_de_passe+{second}"


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

    # A busy address or a locked account is refused before any check and
    # without any write, the audit trail's included: the failures that led
    # there are in it, and so is the lock; a flood of refused attempts must
    # not become a flood of appends, each taking the trail's head lock.
    with db.sessions() as session:
        refuse_busy_address(session, settings, address, now)
        person = _find(session, login)
        if person is not None:
            refuse_locked(person, now)
        checked = _check(session, sealer, keeper, person, password, second_factor, now)

    with db.transaction() as session:
        outcome = _commit(
            session, settings, keeper, checked, password, login, address, now
        )
    if isinstance(outcome, SceauError):
        raise outcome
    return outcome


def record_login(
    session: Session,
    logged_in: LoggedIn,
    *,
    address: str,
    session_ref: str,
    now: datetime,
) -> None:
    """``connexion.reussie``, in the transaction that opens the person's
    session; ``session_ref`` names the session without being its cookie."""
    account = _trail_account(
        logged_in.code_09, logged_in.person_id, logged_in.client_id, address
    )
    trail_login(
        session,
        actions.CONNEXION_REUSSIE,
        account,
        method=logged_in.method,
        session_ref=session_ref,
        now=now,
    )


def record_logout(
    session: Session,
    *,
    code_09: str,
    person_id: str,
    address: str,
    session_ref: str,
    now: datetime,
) -> None:
    """``deconnexion``, in the transaction that ends the session."""
    client_id = session.scalar(select(Person.client_id).where(Person.id == person_id))
    account = _trail_account(code_09, person_id, client_id, address)
    trail_logout(
        session, actions.DECONNEXION, account, session_ref=session_ref, now=now
    )


def _trail_account(
    code_09: str, person_id: str, client_id: str | None, address: str | None
) -> TrailAccount:
    return TrailAccount(
        actor=Actor.person(code_09, person_id, address),
        subject=code_09,
        objects={"identite": code_09},
        client_id=client_id,
    )


def confirm_with_totp(
    db: Database,
    sealer: KeySealer,
    settings: Settings,
    *,
    person_id: str,
    code: str,
    address: str | None = None,
    now: datetime | None = None,
) -> int:
    """A fresh TOTP code for one act of consequence (a signature): the step it
    matched, claimed so that it can never serve again. A wrong code counts
    towards the lock like a failed login; a code of a step already used (the
    one that logged in, say) is refused as a replay. Recovery codes are for
    logging in only. ``address`` is where the request came from, for the
    lock's entry."""
    now = now or utcnow()
    with db.sessions() as session:
        person = session.get(Person, person_id)
        if person is None or not person.enrolled or person.totp_secret_sealed is None:
            raise PersonUnavailable()
        refuse_locked(person, now)
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
            counted = _count_failure(session, settings, person, now, address=address)
            locked = isinstance(counted, AccountLocked)
            failure = counted if locked else WrongTotpCode()
    logger.info(
        "person.totp_refused", extra={"person": person_id, "code": failure.code}
    )
    raise failure


# -- reading and checking -----------------------------------------------------------


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
    if (
        person is None
        or person.password_hash is None
        or person.totp_secret_sealed is None
    ):
        check_decoy_password(keeper, password)
        return _Checked(person, False, None, None)
    if not keeper.matches(person.password_hash, password):
        return _Checked(person, False, None, None)

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


# -- committing ------------------------------------------------------------------


def _commit(
    session: Session,
    settings: Settings,
    keeper: PasswordKeeper,
    checked: _Checked,
    password: str,
    login: str,
    address: str,
    now: datetime,
) -> LoggedIn | SceauError:
    person = checked.person
    if (
        person is not None
        and checked.password_ok
        and _claim_second_factor(session, person, checked, now)
    ):
        _forget_failures(session, person, keeper, password)
        logger.info("person.login", extra={"person": person.id})
        return LoggedIn(
            person.id,
            person.code_09,
            person.name,
            checked.recovery_hash is not None,
            person.client_id,
        )

    source = record_address_failure(
        session, settings, address, person.id if person else None, now
    )
    if person is None:
        # No entry of its own: a stranger's attempts are summed up once the
        # address reaches its limit (see ``sceau.people.login_trail``).
        record_unknown_attempt(
            session, settings, address, source, now, typed_code=typed_code(login)
        )
        return LoginRefused()

    logger.info("person.login_refused", extra={"person": person.id})
    failure = _count_failure(session, settings, person, now, address=address)
    record_failure(
        session,
        actions.CONNEXION_ECHOUEE,
        _trail_account(person.code_09, person.id, person.client_id, address),
        reason=_reason(checked),
        error=failure,
        now=now,
    )
    return failure


def _reason(checked: _Checked) -> str:
    """Why a login that reached the checks failed, for the trail."""
    person = checked.person
    if (
        person is None
        or person.password_hash is None
        or person.totp_secret_sealed is None
    ):
        return "compte_non_active"
    if not checked.password_ok:
        return "mot_de_passe_incorrect"
    if checked.totp_step is not None:
        # The right code, but its step was used already (or a lock came
        # meanwhile).
        return "code_totp_deja_utilise"
    if checked.recovery_hash is not None:
        return "code_de_secours_deja_utilise"
    return "second_facteur_incorrect"


def _claim_second_factor(
    session: Session, person: Person, checked: _Checked, now: datetime
) -> bool:
    if checked.totp_step is not None:
        return claim_totp_step(session, Person, person.id, checked.totp_step, now)
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
            select(Person.id).where(Person.id == person.id, unlocked(Person, now))
        )
        return bool(claimed.rowcount) and still_unlocked is not None  # type: ignore[attr-defined]
    return False


def _forget_failures(
    session: Session, person: Person, keeper: PasswordKeeper, password: str
) -> None:
    values: dict[str, object] = {"failed_logins": 0}
    if person.password_hash is not None and keeper.needs_rehash(person.password_hash):
        values["password_hash"] = keeper.hash(password)
    session.execute(update(Person).where(Person.id == person.id).values(**values))


def _count_failure(
    session: Session,
    settings: Settings,
    person: Person,
    now: datetime,
    *,
    address: str | None,
) -> LoginRefused | AccountLocked:
    failures = count_failed_login(session, Person, person.id)
    if failures < settings.person_lock_after_failures:
        return LoginRefused()

    until = lock_until(settings, now)
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
        record_lock(
            session,
            _trail_account(person.code_09, person.id, person.client_id, address),
            failures=failures,
            until=until,
            now=now,
        )
        logger.warning("person.locked", extra={"person": person.id})
    return locked_error(until, now)


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
