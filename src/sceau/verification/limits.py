"""The public endpoint's rate limit: verifications per source and minute.

Counted in the database, in fixed one-minute windows, with one upsert per
request: every process sees the same count, and the cost is a single
statement on a primary key. A fixed window lets a source reach twice the
limit across a window boundary, which is acceptable for a limit whose purpose
is to keep one source from monopolising the validator.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sceau.db import Database, utcnow
from sceau.verification.errors import TooManyVerifications
from sceau.verification.models import VerificationCount

WINDOW = timedelta(minutes=1)


class VerificationLimiter:
    def __init__(self, db: Database, master_key: bytes, per_minute: int) -> None:
        self.db = db
        self.per_minute = per_minute
        # Derived, never the master key itself: a leaked table says nothing
        # about any other secret, and an address is not found by hashing all
        # four billion of them without this key.
        self._key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"pixel-sceau verification sources v1",
        ).derive(master_key)

    def count(self, address: str | None, now: datetime | None = None) -> None:
        """Count one verification from ``address``, or refuse it with 429."""
        if address is None or self.per_minute <= 0:
            return
        now = now or utcnow()
        window = now.replace(second=0, microsecond=0)
        source = self.source_of(address)

        with self.db.transaction() as session:
            seen = _increment(session, source, window)
            if seen == 1:
                # A source's first request of a minute: the moment to forget
                # windows that can no longer refuse anything.
                session.execute(
                    delete(VerificationCount).where(
                        VerificationCount.window_start < window
                    )
                )

        if seen > self.per_minute:
            left = (window + WINDOW - now).total_seconds()
            raise TooManyVerifications(retry_after=max(1, math.ceil(left)))

    def source_of(self, address: str) -> str:
        return hmac.new(
            self._key, _network(address).encode(), hashlib.sha256
        ).hexdigest()[:32]


def _network(address: str) -> str:
    # One IPv6 client usually holds a whole /64: counted as one source.
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _increment(session: Session, source: str, window: datetime) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(VerificationCount)
        .values(source=source, window_start=window, count=1)
        .on_conflict_do_update(
            index_elements=["source", "window_start"],
            set_={"count": VerificationCount.count + 1},
        )
        .returning(VerificationCount.count)
    )
    return int(session.execute(statement).scalar_one())
