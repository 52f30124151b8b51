"""Walking the chain: every entry's hash, every link, the head, and where
the trail was changed, emptied, added to or reordered when it was.

The walk streams the entries in their stored order and keeps one hash in
memory; only at a break does it look an entry up by its hash, to say what
kind of break it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sceau.audit.models import GENESIS
from sceau.audit.service import entry_hash
from sceau.db import iso_utc

CHANGED = "changed"
REMOVED = "removed"
INSERTED = "inserted"
REORDERED = "reordered"
HEAD = "head"
ANCHOR = "anchor"


class StoredEntry(NamedTuple):
    seq: int
    at: datetime
    action: str
    client_id: str | None
    subject: str | None
    body: str
    hash: str


@dataclass(frozen=True)
class Finding:
    kind: str
    seq: int | None
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "message": self.message}


@dataclass
class ChainReport:
    entries: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings


def walk(
    entries: Iterable[StoredEntry],
    head: tuple[int, str],
    place_of: Callable[[str], int | None],
) -> ChainReport:
    """Check ``entries`` (in ``seq`` order) against each other and ``head``.

    ``place_of(hash)`` finds the place of the entry stored with that hash, or
    ``None``; it is asked only where a link is broken.
    """
    report = ChainReport()
    expected = 1
    moved: set[int] = set()
    for entry in entries:
        report.entries += 1
        gap = entry.seq > expected
        if gap:
            report.findings.append(_removed(expected, entry.seq - 1))
        link = _link_of(entry)
        if link is None:
            report.findings.append(
                Finding(
                    CHANGED,
                    entry.seq,
                    f"entry {entry.seq} was changed: its content no longer "
                    "matches its hash",
                )
            )
        elif link != report.last_hash and not gap:
            finding = _broken_link(entry.seq, link, place_of, moved)
            if finding is not None:
                report.findings.append(finding)
        report.last_seq, report.last_hash = entry.seq, entry.hash
        expected = entry.seq + 1
    report.findings.extend(_head_findings(report, head))
    return report


def _link_of(entry: StoredEntry) -> str | None:
    """The previous hash the entry names, if the entry is as it was written
    (its hash, and its columns against its body); ``None`` if it was changed."""
    if entry_hash(entry.body) != entry.hash:
        return None
    try:
        data = json.loads(entry.body)
        same = (
            data["at"] == iso_utc(entry.at)
            and data["action"] == entry.action
            and data["client"] == entry.client_id
            and data["subject"] == entry.subject
        )
        link = data["prev"]
    except (ValueError, KeyError, TypeError):
        return None
    return link if same and isinstance(link, str) else None


def _broken_link(
    seq: int, link: str, place_of: Callable[[str], int | None], moved: set[int]
) -> Finding | None:
    named = 0 if link == GENESIS else place_of(link)
    if named is None:
        return Finding(
            CHANGED,
            seq - 1,
            f"entry {seq - 1} was changed and its hash recomputed: entry {seq} "
            f"names a predecessor ({link[:16]}…) that is no longer in the trail",
        )
    if named > seq:
        moved.update((seq, named))
        return Finding(
            REORDERED,
            seq,
            f"entries were reordered: entry {seq} was written after the entry "
            f"now stored at {named}",
        )
    between = set(range(named + 1, seq))
    if between <= moved:
        # The consequence of a reordering already reported.
        return None
    first, last = named + 1, seq - 1
    where = f"entry {first}" if first == last else f"entries {first} to {last}"
    return Finding(
        INSERTED,
        first,
        f"{where} {'was' if first == last else 'were'} inserted: entry {seq} "
        f"follows entry {named} in the chain",
    )


def _removed(first: int, last: int) -> Finding:
    where = f"entry {first}" if first == last else f"entries {first} to {last}"
    return Finding(
        REMOVED,
        first,
        f"{where} {'was' if first == last else 'were'} removed",
    )


def _head_findings(report: ChainReport, head: tuple[int, str]) -> list[Finding]:
    head_seq, head_hash = head
    if report.last_hash == head_hash and report.last_seq == head_seq:
        return []
    if report.last_seq < head_seq and report.last_hash != head_hash:
        return [_removed(report.last_seq + 1, head_seq)]
    if report.last_seq > head_seq and report.last_hash != head_hash:
        first = head_seq + 1
        return [
            Finding(
                INSERTED,
                first,
                f"entries {first} to {report.last_seq} were added after the "
                f"head (entry {head_seq})",
            )
        ]
    if report.last_hash == head_hash and any(
        f.kind in (INSERTED, REMOVED) for f in report.findings
    ):
        # The chain ends where the head says, under another number: the
        # insertions or removals before it are already reported.
        return []
    return [
        Finding(
            HEAD,
            report.last_seq,
            f"the head names entry {head_seq} ({head_hash[:16]}…) but the trail "
            f"ends at entry {report.last_seq} ({report.last_hash[:16]}…)",
        )
    ]
