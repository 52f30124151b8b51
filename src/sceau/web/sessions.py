"""Server-side sessions of the web signer, in ``web_sessions``.

The rules (hashed tokens, idle and absolute timeouts) are those of
``sceau.browser_sessions``; here a session also takes its signing drafts with it
when it goes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from sceau.browser_sessions import SessionTable, digest
from sceau.db import Database
from sceau.people.login_trail import session_reference
from sceau.people.models import Person
from sceau.settings import Settings
from sceau.web.models import SigningDraft, WebSession

logger = logging.getLogger(__name__)


def _delete_drafts(session: Session, session_ids: Select[Any]) -> None:
    session.execute(
        delete(SigningDraft).where(SigningDraft.session_id.in_(session_ids))
    )


WEB_SESSIONS = SessionTable(
    model=WebSession,
    owner_model=Person,
    owner_column="person_id",
    id_prefix="ses_",
    events="web",
    owner_field="person",
    logger=logger,
    before_delete=_delete_drafts,
)


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
    return WEB_SESSIONS.open(session, settings, person_id, now=now)


def reference_of_token(session: Session, token: str) -> str:
    """``session_reference`` of the session ``token`` opens (just opened in
    this transaction, say)."""
    session_id = session.scalar(
        select(WebSession.id).where(WebSession.token_hash == digest(token))
    )
    if session_id is None:
        # Called with the token of a session this transaction just opened.
        raise LookupError("no session behind this token")
    return session_reference(session_id)


def resume_session(
    db: Database, settings: Settings, token: str | None, *, now: datetime
) -> SignedIn | None:
    """The person behind ``token``, or None if it opens no live session."""
    found = WEB_SESSIONS.resume(db, settings, token, now=now)
    if found is None:
        return None
    row, person = found
    return SignedIn(row.id, person.id, person.code_09, person.name)


def end_session(session: Session, session_id: str) -> None:
    WEB_SESSIONS.end(session, session_id)


def end_person_sessions(session: Session, person_id: str) -> int:
    """Log a person out everywhere (an operator's reset, say)."""
    return WEB_SESSIONS.end_owner_sessions(session, person_id)


def purge_expired(session: Session, settings: Settings, *, now: datetime) -> int:
    session.execute(delete(SigningDraft).where(SigningDraft.expires_at <= now))
    return WEB_SESSIONS.purge_expired(session, settings, now=now)
