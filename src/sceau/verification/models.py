"""Public verifications counted per source network and minute, for the rate
limit: the count lives in the database so that every process sees it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime


class VerificationCount(Base):
    __tablename__ = "verification_counts"

    # A keyed hash of the source address (of its /64 for IPv6): the table
    # never holds an address, and one IPv6 client cannot rotate through its
    # own prefix to escape the limit.
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(
        UTCDateTime(), primary_key=True, index=True
    )
    count: Mapped[int] = mapped_column(Integer)
