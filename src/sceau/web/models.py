"""A person's web sessions, and the drafts they upload to sign."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow


class WebSession(Base):
    """One logged-in browser, kept as the SHA-256 of its cookie's token.

    ``last_seen_at`` moves with every request, for the idle timeout;
    ``expires_at`` is fixed at login, for the absolute lifetime.
    """

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SigningDraft(Base):
    """A PDF uploaded in a session, waiting for the person to review and sign
    exactly these bytes. It goes with its session, once signed, or when its
    short life is over."""

    __tablename__ = "web_drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("web_sessions.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"))
    filename: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(8))
    # The corner of the last page for a visible seal; None signs invisibly.
    seal: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    page_count: Mapped[int] = mapped_column(Integer)
    # Deferred: ownership checks and listings never load the document.
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
