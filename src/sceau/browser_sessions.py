"""Server-side sessions of a browser, for the web signer and the console alike.

The browser holds a random token; the database holds only its SHA-256, so a
copy of the database opens no session. A session ends at logout, after
``web_session_idle_minutes`` without a request, ``web_session_absolute_hours``
after login whatever happens, and when its owner is reset. Each product keeps
its sessions in its own table; a ``SessionTable`` says which one, and who owns
a row. Every method takes ``now`` so that tests can move the clock.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, or_, select, update
from sqlalchemy.orm import Session

from sceau.db import Database
from sceau.settings import Settings

# Moving ``last_seen_at`` on every request would make each page a write; the
# idle timeout counts in minutes, so a few seconds of slack cost nothing.
TOUCH_EVERY = timedelta(seconds=20)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionTable:
    """Where one product keeps its sessions.

    ``model`` is the mapped session class (``id``, ``token_hash``,
    ``created_at``, ``last_seen_at``, ``expires_at`` and the owner's column);
    ``owner_model`` the account it joins; ``events`` prefixes the events
    logged on ``logger`` and ``owner_field`` names the owner in them.
    ``before_delete``, if given, removes what hangs off the sessions about to
    go, chosen by a query of their ids.
    """

    model: Any
    owner_model: Any
    owner_column: str
    id_prefix: str
    events: str
    owner_field: str
    logger: logging.Logger
    before_delete: Callable[[Session, Select[Any]], None] | None = None

    def open(
        self, session: Session, settings: Settings, owner_id: str, *, now: datetime
    ) -> str:
        """A new session for an owner who just logged in; the cookie's token."""
        token = secrets.token_urlsafe(32)
        session.add(
            self.model(
                id=self.id_prefix + secrets.token_hex(12),
                token_hash=digest(token),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=settings.web_session_absolute_hours),
                **{self.owner_column: owner_id},
            )
        )
        session.flush()
        self.logger.info(
            f"{self.events}.session_opened", extra={self.owner_field: owner_id}
        )
        return token

    def resume(
        self, db: Database, settings: Settings, token: str | None, *, now: datetime
    ) -> tuple[Any, Any] | None:
        """The live session row behind ``token`` and its owner, or None."""
        if not token:
            return None
        model, owner = self.model, self.owner_model
        with db.sessions() as session:
            found = session.execute(
                select(model, owner)
                .join(owner, owner.id == self._owner_of(model))
                .where(model.token_hash == digest(token))
            ).one_or_none()
        if found is None:
            return None
        row, account = found

        idle = timedelta(minutes=settings.web_session_idle_minutes)
        if row.expires_at <= now or row.last_seen_at + idle <= now:
            with db.transaction() as session:
                self.end(session, row.id)
            self.logger.info(
                f"{self.events}.session_expired",
                extra={self.owner_field: getattr(row, self.owner_column)},
            )
            return None

        if now - row.last_seen_at >= TOUCH_EVERY:
            with db.transaction() as session:
                session.execute(
                    update(model).where(model.id == row.id).values(last_seen_at=now)
                )
        return row, account

    def end(self, session: Session, session_id: str) -> None:
        self._delete(session, self.model.id == session_id)

    def end_owner_sessions(self, session: Session, owner_id: str) -> int:
        """Log an owner out everywhere (an operator's reset, say)."""
        return self._delete(session, self._owner_of(self.model) == owner_id)

    def purge_expired(
        self, session: Session, settings: Settings, *, now: datetime
    ) -> int:
        idle = timedelta(minutes=settings.web_session_idle_minutes)
        model = self.model
        return self._delete(
            session,
            or_(model.expires_at <= now, model.last_seen_at <= now - idle),
        )

    def _owner_of(self, model: Any) -> Any:
        return getattr(model, self.owner_column)

    def _delete(self, session: Session, which: ColumnElement[bool]) -> int:
        if self.before_delete is not None:
            self.before_delete(session, select(self.model.id).where(which))
        result = session.execute(delete(self.model).where(which))
        return int(getattr(result, "rowcount", 0) or 0)
