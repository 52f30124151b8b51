"""The restore drill, on SQLite and on PostgreSQL: sign, back up while the
service runs, sign more, destroy the data directory and the database,
restore into new ones, and check on a runtime started there that exactly
what was there at the backup came back, and works."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sceau.anchoring.models import AnchorBatch, AnchorRecord
from sceau.app import create_app
from sceau.delegations.models import Delegation
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord, SignedDocument
from tests.anchoring.conftest import Anchoring
from tests.backup.conftest import Target, drop_database, run_cli
from tests.conftest import Provisioned, provision, sign_body
from tests.delegations.conftest import (
    CATALOGUE,
    add_catalogue,
    at,
    delegated_body,
    draft,
    signed_delegation,
)
from tests.people.conftest import START, register
from tests.support.delegations import OFFICER_EMAIL, OFFICER_NAME
from tests.support.pdfs import one_page_pdf
from tests.support.validators import nss_db, pdfsig, pdfsig_signatures

SIGN = "/api/v1/sceau/b2b/signer"
SIGNATURES = "/api/v1/sceau/b2b/signatures"
DELEGATIONS = "/api/v1/sceau/b2b/delegations"
ANCHORS = "/api/v1/sceau/horodatages"
VERIFY = "/api/v1/sceau/verifier"


@contextmanager
def serving(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime.settings, runtime)) as api:
        at(api, START)
        yield api


def sign(api: TestClient, client: Provisioned, motif: str, **extra: Any) -> dict:
    body = sign_body(client, one_page_pdf(), motif=motif, **extra)
    response = api.post(SIGN, json=body, headers=client.headers)
    assert response.status_code == 200, response.text
    answer: dict = response.json()
    return answer


def database_state(runtime: Runtime) -> dict[str, Any]:
    """What the drill compares: signatures and their files, delegations and
    their status, anchors and proofs, by reference."""
    with runtime.db.sessions() as session:
        return {
            "signatures": {
                r.ref: (r.sha256_signed, r.mode, r.delegation_ref)
                for r in session.scalars(select(SignatureRecord))
            },
            "pdfs": {d.ref: d.pdf for d in session.scalars(select(SignedDocument))},
            "delegations": {
                d.ref: d.status for d in session.scalars(select(Delegation))
            },
            "anchors": {
                a.ref: (a.sha256, a.status, a.batch_id, a.path)
                for a in session.scalars(select(AnchorRecord))
            },
            "proofs": {
                b.id: (b.root, b.status, b.proof, b.block_hash)
                for b in session.scalars(select(AnchorBatch))
            },
        }


def destroy(runtime: Runtime) -> None:
    """The data directory and the database are gone."""
    drop_database(runtime)
    shutil.rmtree(runtime.settings.data_dir)


def test_restore_brings_back_everything_up_to_the_backup_and_nothing_after(
    runtime: Runtime,
    anchoring: Anchoring,
    target: Target,
    backup_key: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before the backup: system signatures, a delegation its director
    # signed and a signature under it, a proof confirmed in a block.
    atlanta = provision(runtime)
    add_catalogue(runtime, atlanta, CATALOGUE)
    director = register(
        runtime, atlanta, name=OFFICER_NAME, email=OFFICER_EMAIL, profession="dirigeant"
    )
    with serving(runtime) as api:
        delegation = signed_delegation(runtime, api, atlanta, director)
        before = [sign(api, atlanta, f"Attestation n° {n}") for n in range(3)]
        delegated = api.post(
            SIGN, json=delegated_body(director), headers=atlanta.headers
        )
        assert delegated.status_code == 200, delegated.text
        before.append(delegated.json())
        anchoring.later(seconds=1)
        anchoring.calendars[0].complete(height=900_001)
        anchoring.later(minutes=2)
        proof = api.get(
            f"{ANCHORS}/{before[0]['ref_horodatage']}.ots", headers=atlanta.headers
        )
        assert proof.status_code == 200
        assert (
            api.get(
                f"{ANCHORS}/{before[0]['ref_horodatage']}", headers=atlanta.headers
            ).json()["statut"]
            == "confirme"
        )

        # The backup, made through the CLI while the service serves.
        env = {
            "SCEAU_DATA_DIR": str(runtime.settings.data_dir),
            "SCEAU_DATABASE_URL": runtime.settings.resolved_database_url,
            "SCEAU_BACKUP_KEY": backup_key,
        }
        archive = tmp_path / "backups" / "drill.sceau-backup"
        created = run_cli(env, "backup", "create", "--output", str(archive))
        assert created.exit_code == 0, created.output
        backed_up = database_state(runtime)

        # After it: more signatures, a drafted delegation, a new anchor batch.
        after = [sign(api, atlanta, f"Attestation tardive n° {n}") for n in range(2)]
        late_draft = draft(api, atlanta, director.code_09)
        assert late_draft.status_code == 201, late_draft.text
        anchoring.later(seconds=1)
    latest = database_state(runtime)
    destroy(runtime)

    # Restore into a new data directory and a new database.
    restored = run_cli(
        env,
        "backup",
        "restore",
        str(archive),
        "--data-dir",
        str(target.data_dir),
        "--database-url",
        target.database_url,
    )
    assert restored.exit_code == 0, restored.output
    assert "tables hold the backup's row counts" in restored.output
    assert "MISMATCH" not in restored.output
    assert "the PKI's sealed keys open with the master key" in restored.output
    for output in (created.output, restored.output, caplog.text):
        assert backup_key not in output

    settings = runtime.settings.model_copy(
        update={"data_dir": target.data_dir, "database_url": target.database_url}
    )
    service = Runtime(settings)
    service.prepare()
    try:
        state = database_state(service)

        # Every record up to the backup is back, byte for byte…
        assert state == backed_up
        delegated_ref = before[-1]["ref_signature"]
        assert state["signatures"][delegated_ref][1:] == ("deleguee", delegation.ref)
        # …and what came after it is exactly what is missing, by reference.
        missing = {
            kind: set(latest[kind]) - set(state[kind])
            for kind in ("signatures", "delegations")
        }
        assert missing["signatures"] == {s["ref_signature"] for s in after}
        assert missing["delegations"] == {late_draft.json()["ref_delegation"]}
        assert {a["ref_horodatage"] for a in after} == set(latest["anchors"]) - set(
            state["anchors"]
        )
        assert len(latest["proofs"]) == len(state["proofs"]) + 1

        with serving(service) as api:
            # The records answer through the API, with the client's old key.
            for signed in before:
                record = api.get(
                    f"{SIGNATURES}/{signed['ref_signature']}", headers=atlanta.headers
                )
                assert record.status_code == 200, record.text
                pdf = api.get(
                    f"{SIGNATURES}/{signed['ref_signature']}/pdf",
                    headers=atlanta.headers,
                )
                assert pdf.content == base64.b64decode(signed["pdf_signe_b64"])
            for signed in after:
                gone = api.get(
                    f"{SIGNATURES}/{signed['ref_signature']}", headers=atlanta.headers
                )
                assert gone.status_code == 404
            view = api.get(f"{DELEGATIONS}/{delegation.ref}", headers=atlanta.headers)
            assert view.status_code == 200
            assert view.json()["statut"] == "active"
            again = api.get(
                f"{ANCHORS}/{before[0]['ref_horodatage']}.ots", headers=atlanta.headers
            )
            assert again.content == proof.content

            # A document signed before the backup still verifies publicly.
            report = api.post(
                VERIFY,
                files={
                    "fichier": (
                        "acte.pdf",
                        base64.b64decode(before[0]["pdf_signe_b64"]),
                    )
                },
            ).json()
            assert report["verdict"]["indication"] == "TOTAL-PASSED"
            [signature] = [s for s in report["signatures"] if s["type"] == "signature"]
            assert signature["ref_signature"] == before[0]["ref_signature"]
            assert signature["ancrage"]["statut"] == "confirme"

            # And the restored service signs again, with its restored keys.
            sign(api, atlanta, "Attestation après restauration")

        # The signed files pass an independent validator on the restored root.
        nssdb = nss_db(tmp_path, service.pki.root_pem().encode())
        for number, signed in enumerate(before):
            path = tmp_path / f"restored-{number}.pdf"
            path.write_bytes(state["pdfs"][signed["ref_signature"]])
            [checked] = pdfsig_signatures(pdfsig(path, nssdb))
            assert checked["Signature Validation"] == "Signature is Valid."
            assert checked["Certificate Validation"] == "Certificate is Trusted."
    finally:
        service.close()
