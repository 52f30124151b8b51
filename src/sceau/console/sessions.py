"""Server-side console sessions, on the web signer's rules: the browser holds
a random token, the database its SHA-256; a session ends at logout, after
``web_session_idle_minutes`` without a request, ``web_session_absolute_hours``
after login, and when the operator resets the user."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from sceau.console.models import ROLE_OPERATOR, ROLE_READER, ConsoleSession, ConsoleUser
from sceau.db import Database
from sceau.settings import Settings
from sceau.web.sessions import TOUCH_EVERY, digest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsoleSignedIn:
    """Who is behind a valid console cookie."""

    session_id: str
    user_id: str
    name: str
    email: str
    role: str
    client_id: str | None

    @property
    def is_operator(self) -> bool:
        return self.role == ROLE_OPERATOR and self.client_id is None

    @property
    def can_change(self) -> bool:
        return self.role != ROLE_READER

    @property
    def actor(self) -> str:
        return f"console:{self.user_id}"


def open_session(
    session: Session, settings: Settings, user_id: str, *, now: datetime
) -> str:
    """A new session for a user who just logged in; the cookie's token."""
    purge_expired(session, settings, now=now)
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            id="cse_" + secrets.token_hex(12),
            token_hash=digest(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.web_session_absolute_hours),
        )
    )
    session.flush()
    logger.info("console.session_opened", extra={"user": user_id})
    return token


def resume_session(
    db: Database, settings: Settings, token: str | None, *, now: datetime
) -> ConsoleSignedIn | None:
    """The user behind ``token``, or None if it opens no live session."""
    if not token:
        return None
    with db.sessions() as session:
        found = session.execute(
            select(ConsoleSession, ConsoleUser)
            .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
            .where(ConsoleSession.token_hash == digest(token))
        ).one_or_none()
    if found is None:
        return None
    row, user = found

    idle = timedelta(minutes=settings.web_session_idle_minutes)
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        with db.transaction() as session:
            end_session(session, row.id)
        logger.info("console.session_expired", extra={"user": row.user_id})
        return None

    if now - row.last_seen_at >= TOUCH_EVERY:
        with db.transaction() as session:
            session.execute(
                update(ConsoleSession)
                .where(ConsoleSession.id == row.id)
                .values(last_seen_at=now)
            )
    return ConsoleSignedIn(
        row.id, user.id, user.name, user.email, user.role, user.client_id
    )


def end_session(session: Session, session_id: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


def purge_expired(session: Session, settings: Settings, *, now: datetime) -> None:
    idle = timedelta(minutes=settings.web_session_idle_minutes)
    session.execute(
        delete(ConsoleSession).where(
            or_(
                ConsoleSession.expires_at <= now,
                ConsoleSession.last_seen_at <= now - idle,
            )
        )
    )
