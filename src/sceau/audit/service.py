"""Appending to the audit trail, in the caller's transaction.

``record`` queues an entry on the session; the entries are chained and written
just before the session's transaction commits, after its last flush, so that
the head's lock, which every append takes, is the last lock of the
transaction and is held only for the commit. A transaction that rolls back
writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, event, select
from sqlalchemy.orm import Session

from sceau.audit.actions import ALL
from sceau.audit.actors import Actor
from sceau.audit.models import AuditEntry, AuditHead, AuditRef
from sceau.db import Database, iso_utc, utcnow
from sceau.ops.logs import request_id_var

logger = logging.getLogger(__name__)

_ENTRIES = cast(Table, AuditEntry.__table__)
_HEAD = cast(Table, AuditHead.__table__)
_REFS = cast(Table, AuditRef.__table__)
_PENDING = "sceau.audit.pending"
HEAD_ID = 1
REFERENCE_PREFIX = "JRN-"
# Names that would mean a secret or a document went into the trail.
_FORBIDDEN_KEYS = frozenset(
    {
        "mot_de_passe",
        "password",
        "secret",
        "totp",
        "code_totp",
        "pdf",
        "pdf_b64",
        "cle_api",
        "api_key",
        "cle_privee",
        "private_key",
    }
)


@dataclass(frozen=True)
class PendingEntry:
    at: datetime
    action: str
    actor: dict[str, Any]
    client_id: str | None
    subject: str | None
    objects: dict[str, Any]
    hashes: dict[str, Any]
    details: dict[str, Any]
    request_id: str | None


@dataclass(frozen=True)
class AuditEntryView:
    seq: int
    hash: str
    at: datetime
    action: str
    actor: dict[str, Any]
    client_id: str | None
    subject: str | None
    objects: dict[str, Any] = field(default_factory=dict)
    hashes: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None

    @property
    def reference(self) -> str:
        return entry_reference(self.seq)


def entry_reference(seq: int) -> str:
    """How an entry is cited (in an evidence file, in a report): ``JRN-42``."""
    return f"{REFERENCE_PREFIX}{seq}"


def record(
    session: Session,
    action: str,
    *,
    actor: Actor,
    subject: str | None = None,
    objects: dict[str, Any] | None = None,
    hashes: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    client_id: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> None:
    """Queue an entry, written when ``session``'s transaction commits."""
    if action not in ALL:
        raise ValueError(f"unknown audit action {action!r}: add it to actions")
    for part in (objects, hashes, details):
        _refuse_secrets(part or {})
    pending = PendingEntry(
        at=now or utcnow(),
        action=action,
        actor=actor.as_json(),
        client_id=client_id or actor.client_id,
        # As stored: a subject is a reference, and no reference is longer.
        subject=subject[:64] if subject else subject,
        objects={k: v for k, v in (objects or {}).items() if v is not None},
        hashes={k: v for k, v in (hashes or {}).items() if v is not None},
        details={k: v for k, v in (details or {}).items() if v is not None},
        request_id=request_id if request_id is not None else request_id_var.get(),
    )
    session.info.setdefault(_PENDING, []).append(pending)


def record_now(db: Database, action: str, **fields: Any) -> None:
    """``record`` in a transaction of its own, for what happens when the
    caller's transaction failed (a refused signature, a failed login).

    Call it once the caller's transaction is over. A storage failure is
    logged, not raised: the refusal it records must still reach the client.
    """
    try:
        with db.transaction() as session:
            record(session, action, **fields)
    except Exception:
        # Broad on purpose: whatever keeps the entry from being written (the
        # database away, a value the trail refuses), the client's answer is
        # the refusal it was getting, not a 500; the log says what was lost.
        logger.error("audit.record_failed", extra={"action": action}, exc_info=True)


def canonical_body(prev: str, entry: PendingEntry) -> str:
    """The exact text an entry's hash is taken over: sorted keys, no spaces,
    UTF-8 as is. Its place (``seq``) is not in it: the chain is made by the
    hashes, and the place only says where the entry is stored."""
    return canonical_json(
        {
            "prev": prev,
            "at": iso_utc(entry.at),
            "action": entry.action,
            "actor": entry.actor,
            "client": entry.client_id,
            "subject": entry.subject,
            "objects": entry.objects,
            "hashes": entry.hashes,
            "details": entry.details,
            "request_id": entry.request_id,
        }
    )


def canonical_json(value: dict[str, Any]) -> str:
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_json_value,
    )


def entry_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def head(session: Session) -> tuple[int, str]:
    """The last entry's place and hash (``0`` and the genesis hash at first)."""
    row = session.execute(
        select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ID)
    ).one()
    return int(row.seq), str(row.hash)


def entries_about(session: Session, subjects: Iterable[str]) -> list[AuditEntryView]:
    """Every entry that names one of ``subjects``, in the chain's order."""
    wanted = sorted({s for s in subjects if s})
    if not wanted:
        return []
    seqs = select(_REFS.c.seq).where(_REFS.c.ref.in_(wanted))
    rows = session.execute(
        select(_ENTRIES.c.seq, _ENTRIES.c.hash, _ENTRIES.c.body)
        .where(_ENTRIES.c.seq.in_(seqs))
        .order_by(_ENTRIES.c.seq)
    )
    return [view_of(row.seq, row.hash, row.body) for row in rows]


def view_of(seq: int, hash_: str, body: str) -> AuditEntryView:
    data = json.loads(body)
    return AuditEntryView(
        seq=seq,
        hash=hash_,
        at=datetime.fromisoformat(data["at"].replace("Z", "+00:00")),
        action=data["action"],
        actor=data["actor"],
        client_id=data["client"],
        subject=data["subject"],
        objects=data["objects"],
        hashes=data["hashes"],
        details=data["details"],
        request_id=data["request_id"],
    )


def _write_pending(session: Session, pending: list[PendingEntry]) -> None:
    """Chain and write ``pending`` under the head's lock, held until the
    commit. The statements go to the driver as they are: this runs in every
    signing transaction, and building SQLAlchemy statements cost more than
    the database's own work."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _write_on_postgresql(connection, pending)
    else:
        _write_on_sqlite(connection, pending)


def _write_on_sqlite(connection: Connection, pending: list[PendingEntry]) -> None:
    # The UPDATE takes the database's write lock before the head is read,
    # whatever the transaction began as.
    last_seq, prev = connection.exec_driver_sql(
        "UPDATE audit_head SET seq = seq + ? WHERE id = 1 RETURNING seq, hash",
        (len(pending),),
    ).one()
    at = _time_values(connection)
    rows, refs, head_hash = _chained(last_seq - len(pending), prev, pending, at)
    connection.exec_driver_sql(
        "INSERT INTO audit_entries (seq, at, action, client_id, subject, body, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    if refs:
        connection.exec_driver_sql(
            "INSERT INTO audit_refs (ref, seq) VALUES (?, ?)", refs
        )
    connection.exec_driver_sql(
        "UPDATE audit_head SET hash = ?, updated_at = ? WHERE id = 1",
        (head_hash, at(utcnow())),
    )


def _write_on_postgresql(connection: Connection, pending: list[PendingEntry]) -> None:
    # One round trip (migration 0018's sceau_audit_append): the function
    # completes each text with the previous hash, as canonical_body does.
    columns: list[list[Any]] = [[] for _ in range(8)]
    at = _time_values(connection)
    for number, entry in enumerate(pending, start=1):
        prefix, suffix = _cut_at_prev(entry)
        for column, value in zip(
            columns,
            (prefix, suffix, at(entry.at), entry.action, entry.client_id),
            strict=False,
        ):
            column.append(value)
        columns[5].append(entry.subject)
        for ref in _references(entry):
            columns[6].append(ref)
            columns[7].append(number)
    connection.exec_driver_sql(
        "SELECT sceau_audit_append(%s::text[], %s::text[], %s::timestamptz[], "
        "%s::text[], %s::text[], %s::text[], %s::text[], %s::integer[])",
        tuple(columns),
    )


_PREV_MARK = "?" * 64


def _cut_at_prev(entry: PendingEntry) -> tuple[str, str]:
    """The entry's canonical text before and after its previous hash."""
    body = canonical_body(_PREV_MARK, entry)
    field_ = f'"prev":"{_PREV_MARK}"'
    # Keys are sorted and "prev" is a key of the top level only: its one
    # occurrence is the place (a value quoting it would be escaped).
    if body.count(field_) != 1:
        raise ValueError("an audit entry's text names its previous hash once")
    start = body.index(field_) + len('"prev":"')
    return body[:start], body[start + len(_PREV_MARK) :]


def _chained(
    seq: int,
    prev: str,
    pending: list[PendingEntry],
    at: Callable[[datetime], Any],
) -> tuple[list[tuple[Any, ...]], list[tuple[str, int]], str]:
    """The rows of ``pending`` after the entry at ``seq`` of hash ``prev``:
    the entries, their references, and the new head's hash."""
    rows: list[tuple[Any, ...]] = []
    refs: list[tuple[str, int]] = []
    for entry in pending:
        seq += 1
        body = canonical_body(prev, entry)
        prev = entry_hash(body)
        rows.append(
            (
                seq,
                at(entry.at),
                entry.action,
                entry.client_id,
                entry.subject,
                body,
                prev,
            )
        )
        refs.extend((ref, seq) for ref in _references(entry))
    return rows, refs, prev


def _time_values(connection: Connection) -> Callable[[datetime], Any]:
    """How the time columns' type hands a time to this driver, so that the
    rows written here read back as those the ORM writes."""
    processor = _ENTRIES.c.at.type._cached_bind_processor(connection.dialect)
    if processor is None:
        return lambda moment: moment
    return cast(Callable[[datetime], Any], processor)


def _references(entry: PendingEntry) -> list[str]:
    """What the entry can be found by: its subject, and every reference in
    its objects (a string, or a list of strings: the clients an incident
    concerns)."""
    found = {entry.subject} if entry.subject else set()
    for value in entry.objects.values():
        if isinstance(value, str) and value:
            found.add(value)
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str) and v)
    return sorted(ref[:64] for ref in found)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    # Flush the transaction's own changes first, so that the head is the
    # last row it locks.
    session.flush()
    _write_pending(session, pending)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _refuse_secrets(part: dict[str, Any]) -> None:
    for key in part:
        if key.lower() in _FORBIDDEN_KEYS:
            raise ValueError(f"{key!r} must never go into the audit trail")


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return iso_utc(value)
    raise TypeError(f"{type(value).__name__} cannot go into an audit entry")
