"""Each way of rewriting the stored trail is found, and said where."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.chain import CHANGED, INSERTED, REMOVED, REORDERED
from sceau.audit.models import AuditEntry
from sceau.audit.service import PendingEntry, canonical_body, entry_hash, record
from sceau.audit.verify import verify_trail
from sceau.runtime import Runtime
from tests.audit.conftest import SEEDED, START, drop_guards, execute

SHIFT = 1_000_000


def findings(runtime: Runtime) -> list[tuple[str, int | None]]:
    return [(f.kind, f.seq) for f in verify_trail(runtime.db).findings]


def stored(runtime: Runtime, seq: int) -> AuditEntry:
    with runtime.db.sessions() as session:
        entry = session.get(AuditEntry, seq)
    assert entry is not None
    return entry


def forged(prev: str, subject: str) -> tuple[str, str, PendingEntry]:
    """An entry written as the service writes them: the format is no secret."""
    entry = PendingEntry(
        at=START + timedelta(minutes=5, seconds=30),
        action="cle_api.revoquee",
        actor=Actor.operator("exploitation").as_json(),
        client_id=subject,
        subject=subject,
        objects={"cle": "key_05"},
        hashes={},
        details={},
        request_id=None,
    )
    body = canonical_body(prev, entry)
    return body, entry_hash(body), entry


def insert_entry(
    runtime: Runtime, seq: int, body: str, hash_: str, e: PendingEntry
) -> None:
    execute(
        runtime,
        "INSERT INTO audit_entries (seq, at, action, client_id, subject, body, hash)"
        " VALUES (:seq, :at, :action, :client, :subject, :body, :hash)",
        seq=seq,
        at=e.at,
        action=e.action,
        client=e.client_id,
        subject=e.subject,
        body=body,
        hash=hash_,
    )


def test_an_untouched_trail_is_intact(trail: Runtime) -> None:
    report = verify_trail(trail.db)

    assert report.intact
    assert report.chain.entries == SEEDED
    assert report.chain.last_seq == SEEDED
    assert json.loads(stored(trail, 1).body)["prev"] == "0" * 64
    assert json.loads(stored(trail, 2).body)["prev"] == stored(trail, 1).hash


def test_the_database_refuses_to_change_or_delete_an_entry(trail: Runtime) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        execute(trail, "UPDATE audit_entries SET action = 'x' WHERE seq = 3")
    with pytest.raises(DBAPIError, match="append-only"):
        execute(trail, "DELETE FROM audit_entries WHERE seq = 3")

    assert verify_trail(trail.db).intact


def test_a_changed_entry_is_found(trail: Runtime) -> None:
    drop_guards(trail)
    body = stored(trail, 5).body.replace("key_05", "key_99")
    execute(trail, "UPDATE audit_entries SET body = :body WHERE seq = 5", body=body)

    assert findings(trail) == [(CHANGED, 5)]


def test_a_changed_column_is_found_though_the_body_is_intact(trail: Runtime) -> None:
    drop_guards(trail)
    execute(trail, "UPDATE audit_entries SET subject = 'cli_99' WHERE seq = 4")

    assert findings(trail) == [(CHANGED, 4)]


def test_a_changed_entry_whose_hash_was_recomputed_is_found(trail: Runtime) -> None:
    drop_guards(trail)
    body = stored(trail, 5).body.replace("key_05", "key_99")
    execute(
        trail,
        "UPDATE audit_entries SET body = :body, hash = :hash WHERE seq = 5",
        body=body,
        hash=entry_hash(body),
    )

    report = verify_trail(trail.db)

    assert [(f.kind, f.seq) for f in report.findings] == [(CHANGED, 5)]
    assert "recomputed" in report.findings[0].message


def test_a_removed_entry_is_found(trail: Runtime) -> None:
    drop_guards(trail)
    execute(trail, "DELETE FROM audit_entries WHERE seq = 6")

    report = verify_trail(trail.db)

    assert [(f.kind, f.seq) for f in report.findings] == [(REMOVED, 6)]
    assert report.findings[0].message == "entry 6 was removed"


def test_entries_removed_from_the_end_are_found(trail: Runtime) -> None:
    drop_guards(trail)
    execute(trail, "DELETE FROM audit_entries WHERE seq > 8")

    report = verify_trail(trail.db)

    assert [(f.kind, f.seq) for f in report.findings] == [(REMOVED, 9)]
    assert report.findings[0].message == "entries 9 to 10 were removed"


def test_an_inserted_entry_is_found(trail: Runtime) -> None:
    drop_guards(trail)
    # Make room after entry 5, in two steps so that no place is taken twice.
    execute(trail, "UPDATE audit_entries SET seq = seq + :n WHERE seq > 5", n=SHIFT)
    execute(trail, "UPDATE audit_entries SET seq = seq - :n WHERE seq > 5", n=SHIFT - 1)
    insert_entry(trail, 6, *forged(stored(trail, 5).hash, "cli_05"))

    report = verify_trail(trail.db)

    assert [(f.kind, f.seq) for f in report.findings] == [(INSERTED, 6)]
    assert "entry 7 follows entry 5" in report.findings[0].message


def test_an_entry_added_after_the_head_is_found(trail: Runtime) -> None:
    drop_guards(trail)
    insert_entry(trail, SEEDED + 1, *forged(stored(trail, SEEDED).hash, "cli_10"))

    report = verify_trail(trail.db)

    assert [(f.kind, f.seq) for f in report.findings] == [(INSERTED, SEEDED + 1)]
    assert "after the head" in report.findings[0].message


def test_reordered_entries_are_found(trail: Runtime) -> None:
    drop_guards(trail)
    execute(trail, "UPDATE audit_entries SET seq = :n WHERE seq = 4", n=SHIFT)
    execute(trail, "UPDATE audit_entries SET seq = 4 WHERE seq = 5")
    execute(trail, "UPDATE audit_entries SET seq = 5 WHERE seq = :n", n=SHIFT)

    report = verify_trail(trail.db)

    assert [(f.kind, f.seq) for f in report.findings] == [(REORDERED, 4)]


def test_entries_written_together_are_chained_in_order(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        for number in (1, 2, 3):
            record(
                session,
                actions.INCIDENT_OUVERT,
                actor=Actor.service(),
                subject=f"INC-{number}",
            )
    with runtime.db.sessions() as session:
        subjects = session.scalars(select(AuditEntry.subject).order_by(AuditEntry.seq))
        assert list(subjects) == ["INC-1", "INC-2", "INC-3"]
    assert verify_trail(runtime.db).intact


def test_a_transaction_rolled_back_writes_no_entry(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        record(session, actions.INCIDENT_OUVERT, actor=Actor.service(), subject="I")
        raise RuntimeError("the change failed")
    with runtime.db.transaction() as session:
        record(session, actions.INCIDENT_CLOS, actor=Actor.service(), subject="J")

    with runtime.db.sessions() as session:
        rows = session.execute(select(AuditEntry.seq, AuditEntry.subject)).all()
    assert [tuple(r) for r in rows] == [(1, "J")]


def test_a_secret_is_refused_before_it_reaches_the_trail(runtime: Runtime) -> None:
    refused = pytest.raises(ValueError, match="never go into the audit trail")
    with refused, runtime.db.transaction() as session:
        record(
            session,
            actions.CONNEXION_ECHOUEE,
            actor=Actor.person("09-ABCD-1234"),
            details={"mot_de_passe": "hunter2"},
        )


def test_writers_in_parallel_make_one_chain_without_gaps(runtime: Runtime) -> None:
    def write(worker: int) -> None:
        for number in range(15):
            with runtime.db.transaction() as session:
                record(
                    session,
                    actions.INCIDENT_MIS_A_JOUR,
                    actor=Actor.service(f"worker-{worker}"),
                    subject=f"INC-{worker}-{number}",
                )

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    report = verify_trail(runtime.db)
    with runtime.db.sessions() as session:
        places = list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
    assert report.intact, report.findings
    assert places == list(range(1, 61))
