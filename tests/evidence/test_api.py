"""The evidence file through the B2B API: a PDF pdfsig finds signed by Pixel
Sceau that names the client, the key, the level, the hashes, the anchoring
and the audit entries; the same JSON, steps in order; the same PDF when
nothing changed, a new one when the anchoring is confirmed; nothing for
another client."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from sceau.anchoring.models import AnchorBatch, AnchorRecord
from sceau.audit import actions
from sceau.audit.models import AuditEntry
from sceau.evidence import service
from sceau.evidence.models import EvidenceFile
from sceau.runtime import Runtime
from tests.conftest import Provisioned, provision, sign_body
from tests.support.pdfs import text_of
from tests.support.validators import nss_db, pdfsig, pdfsig_signatures

SIGN = "/api/v1/sceau/b2b/signer"
SIGNATURES = "/api/v1/sceau/b2b/signatures"


def sign(api: TestClient, client: Provisioned, pdf: bytes) -> dict[str, Any]:
    answer = api.post(SIGN, json=sign_body(client, pdf), headers=client.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def audit_count(runtime: Runtime, action: str) -> int:
    with runtime.db.sessions() as session:
        return (
            session.scalar(select(func.count()).where(AuditEntry.action == action)) or 0
        )


def test_the_evidence_pdf_is_signed_and_tells_the_signature(
    api: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    pdf: bytes,
    tmp_path: Path,
) -> None:
    signed = sign(api, atlanta, pdf)
    ref = signed["ref_signature"]

    answer = api.get(f"{SIGNATURES}/{ref}/dossier-de-preuve", headers=atlanta.headers)

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    path = tmp_path / "dossier.pdf"
    path.write_bytes(answer.content)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    (block,) = pdfsig_signatures(output)
    assert "Signature is Valid." in output
    assert "Certificate is Trusted." in output
    assert block["Signer Certificate Common Name"].startswith("Pixel Sceau")

    text = text_of(answer.content, tmp_path, "texte.pdf")
    assert "Atlanta Assurances" in text and atlanta.client_id in text
    assert atlanta.api_key_id in text
    assert atlanta.code_09 in text
    assert "Niveau d'authentification A" in text
    assert hashlib.sha256(pdf).hexdigest() in text
    assert signed["sha256_signe"] in text
    assert "État de l'ancrage en attente" in text
    assert re.search(r"JRN-\d+ · [0-9a-f]{16}", text), text
    assert "Heure de l'horodatage (TSA)" in text


def test_the_json_tells_the_same_story_in_order(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    ref = sign(api, atlanta, pdf)["ref_signature"]

    answer = api.get(
        f"{SIGNATURES}/{ref}/dossier-de-preuve.json", headers=atlanta.headers
    )

    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["format"] == "pixel-sceau/dossier-de-preuve/1"
    assert data["mise_en_page"] == 1 and data["diffusion"] == "complete"
    assert data["objet"] == {"type": "signature", "reference": ref}
    assert data["client"]["id"] == atlanta.client_id
    assert data["demande"]["cle_api"] == atlanta.api_key_id
    assert data["demande"]["niveau_authentification"] == "A"
    assert data["demande"]["identite"] == atlanta.code_09
    assert data["signature"]["sha256_source"] == hashlib.sha256(pdf).hexdigest()
    assert data["horodatage"]["heure"] is not None
    assert data["ancrage"]["statut"] == "en_attente"
    assert data["personne"] is None and data["delegation"] is None
    steps = data["etapes"]
    assert [step["action"] for step in steps] == [actions.SIGNATURE_SIGNEE]
    assert steps[0]["journal"]["reference"].startswith("JRN-")
    assert steps[0]["le"] == data["signature"]["signe_le"]
    assert re.fullmatch(r"[0-9a-f]{64}", data["empreinte_contenu"])


def test_asking_twice_gives_the_same_file_until_the_story_changes(
    api: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    pdf: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref = sign(api, atlanta, pdf)["ref_signature"]
    url = f"{SIGNATURES}/{ref}/dossier-de-preuve"

    first = api.get(url, headers=atlanta.headers)
    again = api.get(url, headers=atlanta.headers)

    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert (
        first.headers["X-Ref-Signature-Dossier"]
        == again.headers["X-Ref-Signature-Dossier"]
    )
    assert audit_count(runtime, actions.DOSSIER_PREUVE_EMIS) == 1

    _confirm_anchoring(runtime, ref)
    # Within the minimum interval, the latest file still answers.
    assert api.get(url, headers=atlanta.headers).content == first.content
    monkeypatch.setattr(service, "MIN_INTERVAL", timedelta(0))
    confirmed = api.get(url, headers=atlanta.headers)

    assert confirmed.status_code == 200
    assert (
        confirmed.headers["X-Ref-Signature-Dossier"]
        != first.headers["X-Ref-Signature-Dossier"]
    )
    data = api.get(f"{url}.json", headers=atlanta.headers).json()
    assert data["ancrage"]["statut"] == "confirme"
    assert data["ancrage"]["bloc"]["hauteur"] == 880_000
    assert audit_count(runtime, actions.DOSSIER_PREUVE_EMIS) == 2
    with runtime.db.sessions() as session:
        files = session.scalars(
            select(EvidenceFile).where(EvidenceFile.subject == ref)
        ).all()
    assert len(files) == 2


def test_the_issue_is_recorded_with_who_asked(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    ref = sign(api, atlanta, pdf)["ref_signature"]

    answer = api.get(f"{SIGNATURES}/{ref}/dossier-de-preuve", headers=atlanta.headers)

    assert answer.status_code == 200
    with runtime.db.sessions() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == actions.DOSSIER_PREUVE_EMIS)
        ).one()
    assert entry.subject == answer.headers["X-Dossier-De-Preuve"]
    assert entry.client_id == atlanta.client_id
    assert f'"key_id":"{atlanta.api_key_id}"' in entry.body
    assert f'"signature":"{ref}"' in entry.body


def test_another_clients_reference_reads_as_unknown(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    ref = sign(api, atlanta, pdf)["ref_signature"]
    other = provision(runtime, name="Bêta", label="Bêta – production", body="BETASYS")

    answers = [
        api.get(f"{SIGNATURES}/{ref}/dossier-de-preuve", headers=other.headers),
        api.get(f"{SIGNATURES}/{ref}/dossier-de-preuve.json", headers=other.headers),
        api.get(
            f"{SIGNATURES}/SIG-20260101-ZZZZZZ/dossier-de-preuve",
            headers=other.headers,
        ),
        api.get(
            f"{SIGNATURES}/n'importe quoi/dossier-de-preuve.json", headers=other.headers
        ),
    ]

    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert answer.json()["erreur"]["code"] == "signature_inconnue"
    assert api.get(f"{SIGNATURES}/{ref}/dossier-de-preuve.json").status_code == 401
    assert audit_count(runtime, actions.DOSSIER_PREUVE_EMIS) == 0


def _confirm_anchoring(runtime: Runtime, ref: str) -> None:
    """What the anchoring worker does once Bitcoin confirms the batch."""
    with runtime.db.transaction() as session:
        from sceau.signing.models import SignatureRecord

        record = session.get_one(SignatureRecord, ref)
        batch = AnchorBatch(
            id="LOT-20261204-TESTTEST",
            root="0" * 64,
            size=1,
            status="confirme",
            calendars="{}",
            block_height=880_000,
            block_time=datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
            block_hash="f" * 64,
            confirmed_at=datetime(2026, 12, 4, 13, 0, tzinfo=UTC),
        )
        session.add(batch)
        session.flush()
        session.execute(
            update(AnchorRecord)
            .where(AnchorRecord.ref == record.ref_horodatage)
            .values(status="confirme", batch_id=batch.id)
        )
