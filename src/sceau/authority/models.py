"""One published version of a client's authority matrix."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow

POLICY_WARN = "avertir"
POLICY_REFUSE = "refuser"
POLICIES = (POLICY_WARN, POLICY_REFUSE)

AUTHOR_OPERATOR = "operateur"


class AuthorityMatrix(Base):
    """A version is never changed once written: a change is a new version,
    and a client's current matrix is its highest version. ``rules`` is the
    JSON list of rules, numbered (see ``sceau.authority.rules``).

    ``review_notice_at`` is the one column written later: when the « review
    approaching » notice of this version went out (``sceau.authority.review``).
    ``author`` is ``operateur`` or ``api:<API key id>``.
    """

    __tablename__ = "authority_matrices"
    __table_args__ = (UniqueConstraint("client_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[str] = mapped_column(Text)
    review_due: Mapped[date] = mapped_column(Date, index=True)
    overdue_policy: Mapped[str] = mapped_column(String(16), default=POLICY_WARN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    author: Mapped[str] = mapped_column(String(64))
    review_notice_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True
    )
