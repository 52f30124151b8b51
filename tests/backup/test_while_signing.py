"""A backup made while documents are being signed holds one moment of the
database: every signature it holds has its signed file and its anchoring
record, and its counts are the manifest's."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from sceau.anchoring.models import AnchorRecord
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord, SignedDocument
from tests.backup.conftest import Target, run_cli
from tests.backup.test_drill import serving, sign
from tests.conftest import provision


def test_a_backup_taken_during_signing_is_consistent(
    runtime: Runtime,
    backup_key: str,
    target: Target,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    atlanta = provision(runtime)
    env = {
        "SCEAU_DATA_DIR": str(runtime.settings.data_dir),
        "SCEAU_DATABASE_URL": runtime.settings.resolved_database_url,
        "SCEAU_BACKUP_KEY": backup_key,
    }
    archive = tmp_path / "during.sceau-backup"
    signed: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()
    with serving(runtime) as api:
        sign(api, atlanta, "Attestation n° 0")

        def keep_signing() -> None:
            try:
                while not stop.is_set():
                    signed.append(sign(api, atlanta, "Attestation")["ref_signature"])
            except BaseException as exc:  # re-raised by the test, below
                failures.append(exc)

        writer = threading.Thread(target=keep_signing)
        writer.start()
        try:
            while len(signed) < 2 and writer.is_alive():
                stop.wait(0.05)
            created = run_cli(env, "backup", "create", "--output", str(archive))
            during = len(signed)
            while len(signed) < during + 2 and writer.is_alive():
                stop.wait(0.05)
        finally:
            stop.set()
            writer.join()
    if failures:
        raise failures[0]
    assert created.exit_code == 0, created.output
    assert backup_key not in created.output

    restored = run_cli(
        env,
        "backup",
        "restore",
        str(archive),
        "--data-dir",
        str(target.data_dir),
        "--database-url",
        target.database_url,
        "--json",
    )

    assert restored.exit_code == 0, restored.output
    report = json.loads(restored.output)
    assert report["ecarts"] == {}
    assert report["comptes_restaures"] == report["comptes_sauvegarde"]
    assert backup_key not in restored.output and backup_key not in caplog.text
    copy = Runtime(
        runtime.settings.model_copy(
            update={"data_dir": target.data_dir, "database_url": target.database_url}
        )
    )
    try:
        with copy.db.sessions() as session:
            records = list(session.scalars(select(SignatureRecord)))
            files = set(session.scalars(select(SignedDocument.ref)))
            anchors = set(session.scalars(select(AnchorRecord.ref)))
    finally:
        copy.close()
    assert 1 + 2 <= len(records) < 1 + len(signed)
    assert len(records) == report["comptes_sauvegarde"]["signatures"]
    assert {r.ref for r in records} == files
    assert {r.ref_horodatage for r in records} == anchors
