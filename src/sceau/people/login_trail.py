"""What the audit trail keeps of logins, for both login forms: a person's in
the web signer (``sceau.people.login``) and a console user's
(``sceau.console.login``).

An account the service knows gets an entry per login, failure, lock and
logout: the failures are bounded by the account's lock. An attempt on no
known account writes nothing of its own, since anyone may make as many as
they like; the address's failures are kept in ``person_login_failures``, and
when they reach the address's limit, one ``connexions.inconnues`` entry sums
them up, once per window and address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.models import AuditEntry, AuditRef
from sceau.audit.service import record
from sceau.errors import SceauError
from sceau.people.models import LoginFailure
from sceau.settings import Settings


@dataclass(frozen=True)
class TrailAccount:
    """A known account as its login entries name it."""

    actor: Actor
    subject: str
    objects: dict[str, str]
    client_id: str | None

    def record_entry(
        self,
        session: Session,
        action: str,
        details: dict[str, object],
        now: datetime,
    ) -> None:
        """One entry about this account, in the caller's transaction."""
        record(
            session,
            action,
            actor=self.actor,
            subject=self.subject,
            objects=self.objects,
            details=details,
            client_id=self.client_id,
            now=now,
        )


def session_reference(session_id: str) -> str:
    """How the audit trail names a browser session: a prefix of its id's
    SHA-256, enough to tell one login's acts from another's, and never the
    cookie."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:16]


def record_login(
    session: Session,
    action: str,
    account: TrailAccount,
    *,
    method: str,
    session_ref: str,
    now: datetime,
) -> None:
    account.record_entry(
        session, action, {"methode": method, "session": session_ref}, now
    )


def record_logout(
    session: Session,
    action: str,
    account: TrailAccount,
    *,
    session_ref: str,
    now: datetime,
) -> None:
    account.record_entry(session, action, {"session": session_ref}, now)


def record_failure(
    session: Session,
    action: str,
    account: TrailAccount,
    *,
    reason: str,
    error: SceauError,
    now: datetime,
) -> None:
    """A failed login on a known account: why it failed (``reason``), what the
    page answered (``error``)."""
    account.record_entry(session, action, {"motif": reason, "erreur": error.code}, now)


def record_lock(
    session: Session,
    account: TrailAccount,
    *,
    failures: int,
    until: datetime,
    now: datetime,
) -> None:
    account.record_entry(
        session,
        actions.COMPTE_VERROUILLE,
        {"echecs": failures, "verrouille_jusqu_au": until},
        now,
    )


def record_unknown_attempt(
    session: Session,
    settings: Settings,
    address: str,
    source: str,
    now: datetime,
    *,
    typed_code: str | None = None,
) -> None:
    """After an attempt on no known account, its failure already added: the
    ``connexions.inconnues`` entry, if the attempts from ``source`` (the
    address's group, see ``login_rules.address_source``) just reached the
    limit and none was written for it within the window. ``typed_code`` is
    the 09 code typed in this attempt, when it parses as one."""
    window_start = now - timedelta(
        minutes=settings.person_address_failure_window_minutes
    )
    count, unknown, first = session.execute(
        select(
            func.count(),
            func.count().filter(LoginFailure.person_id.is_(None)),
            func.min(LoginFailure.at).filter(LoginFailure.person_id.is_(None)),
        ).where(LoginFailure.address == source, LoginFailure.at > window_start)
    ).one()
    if count < settings.person_address_failure_limit or not unknown:
        return
    if _summarised_since(session, source, window_start):
        return

    record(
        session,
        actions.CONNEXIONS_INCONNUES,
        actor=Actor.unknown(address),
        subject=source,
        objects={"source": source},
        details={
            "tentatives": int(unknown),
            "depuis": first,
            "identifiant_saisi": typed_code,
        },
        now=now,
    )


def _summarised_since(session: Session, source: str, since: datetime) -> bool:
    """Whether a ``connexions.inconnues`` entry about ``source`` was written
    after ``since``. The look-up index names the source; two attempts
    committing at once may each write one, which still bounds the trail."""
    found = session.scalar(
        select(AuditEntry.seq)
        .join(AuditRef, AuditRef.seq == AuditEntry.seq)
        .where(
            AuditRef.ref == source,
            AuditEntry.action == actions.CONNEXIONS_INCONNUES,
            AuditEntry.at > since,
        )
        .limit(1)
    )
    return found is not None
