"""Idempotent retries, as Stripe and the IETF Idempotency-Key draft define them.

A key is claimed in its own short transaction before the work starts, so that
a concurrent retry (in this process or another) sees it and gets 409. The work
then completes the claim in its own transaction; a failure releases it, so a
failed request leaves nothing behind and can be retried with the same key.

A claim is a lease: a process that dies holding one (killed, its machine
gone) neither completes nor releases it, and after ``lock_timeout`` a retry
takes it over. The time it was taken (``locked_at``) fences the holders: only
the current holder may complete or release it, so a first attempt that was
merely slow cannot record a second signature after it was taken over. Times
are the database's clock (``database_now``), so that API processes on hosts
whose clocks differ judge a lease alike.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sceau.db import Database, database_now, utcnow
from sceau.idempotency.errors import (
    IdempotencyKeyMalformed,
    IdempotencyKeyReused,
    RequestInProgress,
)
from sceau.idempotency.models import IdempotencyKey
from sceau.settings import Settings

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
STATE_RUNNING = "en_cours"
STATE_DONE = "termine"
# The longest Retry-After a retry that finds its key in progress is told.
RETRY_IN_PROGRESS = 5


@dataclass(frozen=True)
class Claim:
    client_id: str
    key: str
    # When this holder took the key; what fences it from a later one.
    locked_at: datetime


@dataclass(frozen=True)
class Replay:
    ref_signature: str


def validate_key(raw: str) -> str:
    if not _KEY.match(raw):
        raise IdempotencyKeyMalformed()
    return raw


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(f"{method} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def claim(
    db: Database,
    *,
    client_id: str,
    key: str,
    request_fingerprint: str,
    ttl: timedelta,
    lock_timeout: timedelta,
) -> Claim | Replay:
    """Claim ``key`` for this request, or say what the first request became."""
    for _ in range(3):
        try:
            with db.transaction() as session:
                return _claim_once(
                    session, client_id, key, request_fingerprint, ttl, lock_timeout
                )
        except IntegrityError:
            # Another request inserted the same key between our read and our
            # insert; read again and decide on what it wrote.
            continue
    raise RequestInProgress(retry_after=1)


def claim_for(
    db: Database,
    settings: Settings,
    *,
    client_id: str,
    key: str | None,
    request_fingerprint: str,
) -> Claim | Replay | None:
    """``claim`` with the service's settings; ``None`` for a request sent
    without a key."""
    if key is None:
        return None
    return claim(
        db,
        client_id=client_id,
        key=key,
        request_fingerprint=request_fingerprint,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        lock_timeout=timedelta(seconds=settings.idempotency_lock_seconds),
    )


def _claim_once(
    session: Session,
    client_id: str,
    key: str,
    request_fingerprint: str,
    ttl: timedelta,
    lock_timeout: timedelta,
) -> Claim | Replay:
    now = database_now(session)
    row = session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.client_id == client_id, IdempotencyKey.key == key
        )
    )
    if row is not None and row.expires_at <= now:
        session.delete(row)
        session.flush()
        row = None

    if row is None:
        session.add(
            IdempotencyKey(
                client_id=client_id,
                key=key,
                fingerprint=request_fingerprint,
                state=STATE_RUNNING,
                locked_at=now,
                expires_at=now + ttl,
            )
        )
        session.flush()
        return Claim(client_id, key, now)

    if row.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    outcome = _outcome(row, now, lock_timeout)
    if outcome is not None:
        return outcome

    # The first attempt died without finishing or releasing: take it over,
    # only if no other retry did since we read it (the same hold, unfinished).
    seen = row.locked_at
    taken = session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.id == row.id,
            IdempotencyKey.state == STATE_RUNNING,
            IdempotencyKey.locked_at == seen,
        )
        .values(locked_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(taken) == 1:
        return Claim(client_id, key, now)
    # Another retry was first: say what it made of the key.
    fresh = session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.id == row.id)
        .execution_options(populate_existing=True)
    )
    if fresh is not None:
        outcome = _outcome(fresh, now, lock_timeout)
        if outcome is not None:
            return outcome
    raise RequestInProgress(retry_after=1)


def _outcome(
    row: IdempotencyKey, now: datetime, lock_timeout: timedelta
) -> Replay | None:
    """The first request's answer, if it finished; 409 while it holds the key;
    ``None`` when its hold ran out and the key may be taken over."""
    if row.state == STATE_DONE and row.ref_signature is not None:
        return Replay(row.ref_signature)
    held_for = now - row.locked_at
    if held_for < lock_timeout:
        # A live first attempt answers within seconds; a dead one's hold
        # runs out at the latest ``left`` from now.
        left = (lock_timeout - held_for).total_seconds()
        raise RequestInProgress(
            retry_after=max(1, min(RETRY_IN_PROGRESS, math.ceil(left)))
        )
    return None


def complete(session: Session, claimed: Claim, ref_signature: str) -> None:
    """Record the outcome, in the same transaction as the signature itself;
    refused, and the transaction with it, unless this attempt still holds the
    key: another attempt took it over meanwhile (it signs, or has signed, in
    our place), or took it over, failed and released it (the client's retry
    will sign once, then)."""
    result = session.execute(
        update(IdempotencyKey)
        .where(*_held_by(claimed))
        .values(state=STATE_DONE, ref_signature=ref_signature)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        raise RequestInProgress(retry_after=1)


def release(db: Database, claimed: Claim) -> None:
    with db.transaction() as session:
        session.execute(delete(IdempotencyKey).where(*_held_by(claimed)))


def _held_by(claimed: Claim) -> tuple[Any, ...]:
    """The key's row while ``claimed`` still holds it, unfinished."""
    return (
        IdempotencyKey.client_id == claimed.client_id,
        IdempotencyKey.key == claimed.key,
        IdempotencyKey.state == STATE_RUNNING,
        IdempotencyKey.locked_at == claimed.locked_at,
    )


def purge_expired(session: Session) -> int:
    result = session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at <= utcnow())
    )
    return _rowcount(result)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
