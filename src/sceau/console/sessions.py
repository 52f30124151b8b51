"""Server-side console sessions, in ``console_sessions``, on the web signer's
rules (``sceau.browser_sessions``): the browser holds a random token, the
database its SHA-256; a session ends at logout, after
``web_session_idle_minutes`` without a request, ``web_session_absolute_hours``
after login, and when the operator resets the user."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.audit.actors import Actor
from sceau.browser_sessions import SessionTable, digest
from sceau.console.models import ROLE_OPERATOR, ROLE_READER, ConsoleSession, ConsoleUser
from sceau.db import Database
from sceau.people.login_trail import session_reference
from sceau.settings import Settings

logger = logging.getLogger(__name__)

CONSOLE_SESSIONS = SessionTable(
    model=ConsoleSession,
    owner_model=ConsoleUser,
    owner_column="user_id",
    id_prefix="cse_",
    events="console",
    owner_field="user",
    logger=logger,
)


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

    def audit_actor(self, address: str | None) -> Actor:
        """The user as the audit trail names them, from ``address``."""
        return Actor.console_user(self.user_id, self.client_id, address)


def open_session(
    session: Session, settings: Settings, user_id: str, *, now: datetime
) -> str:
    """A new session for a user who just logged in; the cookie's token."""
    purge_expired(session, settings, now=now)
    return CONSOLE_SESSIONS.open(session, settings, user_id, now=now)


def reference_of_token(session: Session, token: str) -> str:
    """How the audit trail names the session ``token`` opens: a prefix of its
    id's SHA-256, never the cookie."""
    session_id = session.scalar(
        select(ConsoleSession.id).where(ConsoleSession.token_hash == digest(token))
    )
    if session_id is None:
        # Called with the token of a session this transaction just opened.
        raise LookupError("no session behind this token")
    return session_reference(session_id)


def resume_session(
    db: Database, settings: Settings, token: str | None, *, now: datetime
) -> ConsoleSignedIn | None:
    """The user behind ``token``, or None if it opens no live session."""
    found = CONSOLE_SESSIONS.resume(db, settings, token, now=now)
    if found is None:
        return None
    row, user = found
    return ConsoleSignedIn(
        row.id, user.id, user.name, user.email, user.role, user.client_id
    )


def end_session(session: Session, session_id: str) -> None:
    CONSOLE_SESSIONS.end(session, session_id)


def end_user_sessions(session: Session, user_id: str) -> int:
    """Log a user out everywhere (a reset, say)."""
    return CONSOLE_SESSIONS.end_owner_sessions(session, user_id)


def purge_expired(session: Session, settings: Settings, *, now: datetime) -> int:
    return CONSOLE_SESSIONS.purge_expired(session, settings, now=now)
