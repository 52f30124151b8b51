"""Server-side sessions of the web signer.

The browser holds a random token; the database holds only its SHA-256, so a
copy of the database opens no session. A session ends at logout, after
``web_session_idle_minutes`` without a request, ``web_session_absolute_hours``
after login whatever happens, and when the operator resets the person.
Every function takes ``now`` so that tests can move the clock.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from sceau.db import Database
from sceau.people.models import Person
from sceau.settings import Settings
from sceau.web.models import SigningDraft, WebSession

logger = logging.getLogger(__name__)

# Moving ``last_seen_at`` on every request would make each page a write; the
# idle timeout counts in minutes, so a few seconds of slack cost nothing.
TOUCH_EVERY = timedelta(seconds=20)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """Who is behind a valid session cookie."""

    session_id: str
    person_id: str
    code_09: str
    name: str


def open_session(
    session: Session, settings: Settings, person_id: str, *, now: datetime
) -> str:
    """A new session for a person who just logged in; the cookie's token."""
    purge_expired(session, settings, now=now)
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id="ses_" + secrets.token_hex(12),
            token_hash=digest(token),
            person_id=person_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.web_session_absolute_hours),
        )
    )
    session.flush()
    logger.info("web.session_opened", extra={"person": person_id})
    return token


def resume_session(
    db: Database, settings: Settings, token: str | None, *, now: datetime
) -> SignedIn | None:
    """The person behind ``token``, or None if it opens no live session."""
    if not token:
        return None
    with db.sessions() as session:
        found = session.execute(
            select(WebSession, Person)
            .join(Person, Person.id == WebSession.person_id)
            .where(WebSession.token_hash == digest(token))
        ).one_or_none()
    if found is None:
        return None
    row, person = found

    idle = timedelta(minutes=settings.web_session_idle_minutes)
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        with db.transaction() as session:
            _delete_sessions(session, WebSession.id == row.id)
        logger.info("web.session_expired", extra={"person": row.person_id})
        return None

    if now - row.last_seen_at >= TOUCH_EVERY:
        with db.transaction() as session:
            session.execute(
                update(WebSession)
                .where(WebSession.id == row.id)
                .values(last_seen_at=now)
            )
    return SignedIn(row.id, person.id, person.code_09, person.name)


def end_session(session: Session, session_id: str) -> None:
    _delete_sessions(session, WebSession.id == session_id)


def end_person_sessions(session: Session, person_id: str) -> int:
    """Log a person out everywhere (an operator's reset, say)."""
    return _delete_sessions(session, WebSession.person_id == person_id)


def purge_expired(session: Session, settings: Settings, *, now: datetime) -> int:
    idle = timedelta(minutes=settings.web_session_idle_minutes)
    session.execute(delete(SigningDraft).where(SigningDraft.expires_at <= now))
    return _delete_sessions(
        session,
        or_(WebSession.expires_at <= now, WebSession.last_seen_at <= now - idle),
    )


def _delete_sessions(session: Session, which: object) -> int:
    ids = select(WebSession.id).where(which)  # type: ignore[arg-type]
    session.execute(delete(SigningDraft).where(SigningDraft.session_id.in_(ids)))
    result = session.execute(delete(WebSession).where(which))  # type: ignore[arg-type]
    return int(getattr(result, "rowcount", 0) or 0)
