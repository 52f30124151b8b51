"""The head fixed in time: a token ``openssl ts -verify`` accepts, a proof
``ots info`` reads, and a rewrite before an anchor that the anchor gives away."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import select

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.anchors import (
    anchor_chore,
    anchor_head,
    anchor_is_due,
    anchor_states,
)
from sceau.audit.chain import ANCHOR
from sceau.audit.models import AuditEntry
from sceau.audit.service import canonical_json, entry_hash, head, record
from sceau.audit.verify import verify_trail
from sceau.db import utcnow
from sceau.documents.sealing import service_identity
from sceau.runtime import Runtime
from tests.anchoring.conftest import Anchoring
from tests.audit.conftest import SEEDED, drop_guards, execute, run
from tests.support.validators import openssl_ts_verify


def ots(*args: str) -> str:
    binary = shutil.which("ots") or str(Path(sys.executable).parent / "ots")
    result = subprocess.run(
        [binary, "--no-cache", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture
def trail(trail: Runtime) -> Runtime:
    """The seeded trail, and the service's own client the anchoring records
    belong to (whose making the trail records too)."""
    service_identity(trail)
    return trail


def head_seq(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return head(session)[0]


def test_the_head_is_timestamped_and_queued_once(trail: Runtime) -> None:
    last = head_seq(trail)
    first = anchor_head(trail)
    again = anchor_head(trail)

    assert last >= SEEDED
    assert first is not None
    assert first.seq == last
    assert again is None
    with trail.db.sessions() as session:
        entry = session.get(AuditEntry, last)
        assert entry is not None
        assert first.hash == entry.hash
        # The anchoring itself is in the trail, after the head it fixed.
        recorded = session.get(AuditEntry, last + 1)
        assert recorded is not None and recorded.action == "journal.ancre"
        assert [s.seq for s in anchor_states(session)] == [last]
    assert verify_trail(trail.db).intact


def test_the_anchor_token_passes_openssl_ts_verify(
    trail: Runtime, api: TestClient, cli: CliRunner, tmp_path: Path
) -> None:
    state = anchor_head(trail)
    assert state is not None
    token = tmp_path / "tete.tst"

    result = run(cli, "audit", "proof", str(state.seq), "--tsr", str(token))
    root = tmp_path / "root.pem"
    root.write_bytes(api.get("/pki/root.crt").content)
    issuing = x509.load_der_x509_certificate(api.get("/pki/issuing.crt").content)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(issuing.public_bytes(serialization.Encoding.PEM))
    checked = openssl_ts_verify(
        token, ca_file=root, untrusted=chain, digest_hex=state.hash, token_in=True
    )

    assert result.exit_code == 0, result.output
    assert "Verification: OK" in checked.stdout, checked.stdout + checked.stderr


def test_the_anchored_head_has_a_proof_ots_info_reads(
    trail: Runtime, anchoring: Anchoring, cli: CliRunner, tmp_path: Path
) -> None:
    state = anchor_head(trail)
    assert state is not None
    early = run(cli, "audit", "proof", str(state.seq), "--ots", str(tmp_path / "x"))
    anchoring.later(seconds=1)
    anchoring.calendars[0].complete(height=900_002)
    anchoring.later(minutes=2)
    proof = tmp_path / "tete.ots"

    result = run(cli, "audit", "proof", str(state.seq), "--ots", str(proof))
    info = ots("info", str(proof))
    verified = run(cli, "audit", "verify")

    assert early.exit_code != 0
    assert "no OpenTimestamps proof yet" in early.output
    assert result.exit_code == 0, result.output
    assert state.hash in info
    assert "BitcoinBlockHeaderAttestation(900002)" in info
    assert verified.exit_code == 0, verified.output
    assert f"entry {state.seq}: TSA" in verified.output
    assert "confirme, block 900002" in verified.output


def test_a_rewrite_before_an_anchor_is_found_by_the_anchor(trail: Runtime) -> None:
    anchored = anchor_head(trail)
    assert anchored is not None
    drop_guards(trail)
    # A careful rewrite from entry 3 on: every hash and link recomputed, the
    # head moved to match. The chain alone is consistent again.
    with trail.db.sessions() as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    prev = rows[1].hash
    for row in rows[2:]:
        body = json.loads(row.body)
        body["prev"] = prev
        if row.seq == 3:
            body["objects"] = {"cle": "key_99"}
        text = canonical_json(body)
        prev = entry_hash(text)
        execute(
            trail,
            "UPDATE audit_entries SET body = :body, hash = :hash WHERE seq = :seq",
            body=text,
            hash=prev,
            seq=row.seq,
        )
    execute(trail, "UPDATE audit_head SET hash = :hash", hash=prev)

    report = verify_trail(trail.db)

    assert report.chain.findings == []
    assert [(f.kind, f.seq) for f in report.findings] == [(ANCHOR, anchored.seq)]
    assert f"rewritten at or before entry {anchored.seq}" in report.findings[0].message


def test_the_anchor_is_due_daily_once_entries_are_written(trail: Runtime) -> None:
    day = timedelta(days=1)
    now = utcnow()
    with trail.db.sessions() as session:
        assert anchor_is_due(session, day, now)
    anchored = anchor_head(trail, now=now)
    assert anchored is not None
    with trail.db.sessions() as session:
        assert not anchor_is_due(session, day, now + timedelta(hours=23))
        # A day later, but nothing written since but the anchoring itself.
        assert not anchor_is_due(session, day, now + timedelta(hours=24))
    with trail.db.transaction() as session:
        record(session, actions.INCIDENT_OUVERT, actor=Actor.service(), subject="I")
    with trail.db.sessions() as session:
        assert not anchor_is_due(session, day, now + timedelta(hours=23))
        assert anchor_is_due(session, day, now + timedelta(hours=24))


def test_the_worker_chore_anchors_when_due_and_then_waits(trail: Runtime) -> None:
    chore = anchor_chore(trail.db, trail.settings)

    first, second = chore(), chore()

    assert (first, second) == (1, 0)
    with trail.db.sessions() as session:
        assert len(anchor_states(session)) == 1
