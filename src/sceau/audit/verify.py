"""The whole check ``sceau audit verify`` runs: the chain in one consistent
snapshot, then every anchor; and the export of a period as JSON lines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.audit.anchors import AnchorState, check_anchors
from sceau.audit.chain import ChainReport, Finding, StoredEntry, walk
from sceau.audit.models import AuditEntry
from sceau.audit.service import canonical_json, head
from sceau.db import Database

_BATCH = 5000


@dataclass
class TrailReport:
    chain: ChainReport
    anchors: list[AnchorState] = field(default_factory=list)
    anchor_findings: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return self.chain.findings + self.anchor_findings

    @property
    def intact(self) -> bool:
        return not self.findings

    def as_json(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "entries": self.chain.entries,
            "head": {"seq": self.chain.last_seq, "hash": self.chain.last_hash},
            "anchors": [a.as_json() for a in self.anchors],
            "findings": [f.as_json() for f in self.findings],
        }


def verify_trail(db: Database) -> TrailReport:
    with db.sessions() as session, db.sessions() as lookups:
        _snapshot(session)
        report = walk(
            _stored_entries(session),
            head(session),
            lambda hash_: lookups.scalar(
                select(AuditEntry.seq).where(AuditEntry.hash == hash_).limit(1)
            ),
        )
        states, anchor_findings = check_anchors(session)
    return TrailReport(chain=report, anchors=states, anchor_findings=anchor_findings)


def export_lines(db: Database, start: datetime, end: datetime) -> Iterator[str]:
    """The entries written in ``[start, end)``, one JSON object a line: its
    place, its hash, and the exact text the hash is over."""
    with db.sessions() as session:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.hash, AuditEntry.body)
            .where(AuditEntry.at >= start, AuditEntry.at < end)
            .order_by(AuditEntry.seq)
            .execution_options(yield_per=_BATCH)
        )
        for row in rows:
            yield canonical_json({"seq": row.seq, "hash": row.hash, "body": row.body})


def _snapshot(session: Session) -> None:
    # The head and the entries must be read at one moment, or entries written
    # during the walk would look added after the head. SQLite's read
    # transaction is a snapshot already; PostgreSQL's must be asked for.
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _stored_entries(session: Session) -> Iterator[StoredEntry]:
    rows = session.execute(
        select(
            AuditEntry.seq,
            AuditEntry.at,
            AuditEntry.action,
            AuditEntry.client_id,
            AuditEntry.subject,
            AuditEntry.body,
            AuditEntry.hash,
        )
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=_BATCH)
    )
    for row in rows:
        yield StoredEntry(*row)
