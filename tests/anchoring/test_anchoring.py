"""Anchoring in Bitcoin through OpenTimestamps, end to end on loopback: the
signing answer's HRD-…, one submission per batch, upgrades, the Bitcoin
check, the .ots proof read by the independent `ots` client."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sceau.events.models import Event
from sceau.runtime import Runtime
from tests.anchoring.conftest import Anchoring
from tests.conftest import Provisioned, sign_body

SIGN = "/api/v1/sceau/b2b/signer"
ANCHORS = "/api/v1/sceau/horodatages"


def sign(api: TestClient, client: Provisioned, pdf: bytes, **extra: object) -> dict:
    response = api.post(
        SIGN, json=sign_body(client, pdf, niveau="B-T", **extra), headers=client.headers
    )
    assert response.status_code == 200, response.text
    answer: dict = response.json()
    return answer


def status(api: TestClient, client: Provisioned, ref: str) -> dict:
    response = api.get(f"{ANCHORS}/{ref}", headers=client.headers)
    assert response.status_code == 200, response.text
    answer: dict = response.json()
    return answer


def ots(*args: str) -> str:
    binary = shutil.which("ots") or str(
        Path(__import__("sys").executable).parent / "ots"
    )
    result = subprocess.run(
        [binary, "--no-cache", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_signing_answer_names_a_pending_anchor_at_once(
    api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    signed = sign(api, atlanta, pdf)

    record = status(api, atlanta, signed["ref_horodatage"])

    assert record["ref_horodatage"] == signed["ref_horodatage"]
    assert record["statut"] == "en_attente"
    assert record["sha256"] == signed["sha256_signe"]
    assert record["bloc"] is None


def test_many_documents_make_one_submission_per_calendar(
    api: TestClient, atlanta: Provisioned, pdf: bytes, anchoring: Anchoring
) -> None:
    refs = [sign(api, atlanta, pdf)["ref_horodatage"] for _ in range(5)]

    anchoring.later(seconds=1)

    assert [len(c.digests_received) for c in anchoring.calendars] == [1, 1]
    assert {status(api, atlanta, ref)["statut"] for ref in refs} == {"soumis"}
    calendars = status(api, atlanta, refs[0])["calendriers"]
    assert [c["statut"] for c in calendars] == ["accepte", "accepte"]


def test_confirmed_proof_is_checked_against_the_block_and_announced(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    pdf: bytes,
    anchoring: Anchoring,
    tmp_path: Path,
) -> None:
    signed = sign(api, atlanta, pdf)
    anchoring.later(seconds=1)
    block = anchoring.calendars[0].complete(height=900_001)

    anchoring.later(minutes=2)
    record = status(api, atlanta, signed["ref_horodatage"])
    proof = api.get(
        f"{ANCHORS}/{signed['ref_horodatage']}.ots", headers=atlanta.headers
    )

    assert record["statut"] == "confirme"
    assert record["bloc"]["hauteur"] == 900_001
    assert record["bloc"]["hash"] == block.hash_hex
    assert proof.status_code == 200
    assert proof.headers["content-type"] == "application/vnd.opentimestamps.v1"
    path = tmp_path / "attestation.pdf.ots"
    path.write_bytes(proof.content)
    info = ots("info", str(path))
    assert hashlib.sha256(base64_pdf(signed)).hexdigest() in info
    assert "BitcoinBlockHeaderAttestation(900001)" in info
    # `ots verify` checks the proof against a node: the test chain's RPC.
    (tmp_path / "attestation.pdf").write_bytes(base64_pdf(signed))
    node = anchoring.chain.url.replace("http://", "http://user:pass@") + "/"
    verified = ots("--bitcoin-node", node, "verify", str(path))
    assert "Success! Bitcoin block 900001 attests existence" in verified
    with runtime.db.sessions() as session:
        events = list(
            session.scalars(select(Event).where(Event.type == "horodatage.confirme"))
        )
    assert len(events) == 1
    assert events[0].data["ref_horodatage"] == signed["ref_horodatage"]
    assert events[0].data["ref_signature"] == signed["ref_signature"]
    assert events[0].data["bloc"]["hauteur"] == 900_001


def base64_pdf(signed: dict) -> bytes:
    import base64

    return base64.b64decode(signed["pdf_signe_b64"])


def test_pending_proof_is_read_and_upgraded_by_the_ots_client(
    api: TestClient,
    atlanta: Provisioned,
    pdf: bytes,
    anchoring: Anchoring,
    tmp_path: Path,
) -> None:
    signed = sign(api, atlanta, pdf)
    anchoring.later(seconds=1)
    path = tmp_path / "acte.pdf.ots"
    path.write_bytes(
        api.get(
            f"{ANCHORS}/{signed['ref_horodatage']}.ots", headers=atlanta.headers
        ).content
    )
    before = ots("info", str(path))
    anchoring.calendars[0].complete(height=900_002)

    whitelist = [arg for c in anchoring.calendars for arg in ("-l", c.url)]
    ots("--no-default-whitelist", *whitelist, "--no-bitcoin", "upgrade", str(path))
    after = ots("info", str(path))

    assert (
        "PendingAttestation" in before and "BitcoinBlockHeaderAttestation" not in before
    )
    assert "BitcoinBlockHeaderAttestation(900002)" in after


def test_proof_is_public_by_the_documents_digest(
    api: TestClient, atlanta: Provisioned, pdf: bytes, anchoring: Anchoring
) -> None:
    signed = sign(api, atlanta, pdf)
    anchoring.later(seconds=1)

    public = TestClient(api.app).get(
        f"/api/v1/sceau/public/horodatages/{signed['sha256_signe']}.ots"
    )
    unknown = TestClient(api.app).get(
        f"/api/v1/sceau/public/horodatages/{'0' * 64}.ots"
    )
    malformed = TestClient(api.app).get("/api/v1/sceau/public/horodatages/xyz.ots")

    assert public.status_code == 200 and public.content.startswith(
        b"\x00OpenTimestamps"
    )
    assert unknown.status_code == 404
    assert unknown.json()["erreur"]["code"] == "horodatage_inconnu"
    assert malformed.status_code == 400


def test_queued_document_has_no_proof_yet(
    api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    signed = sign(api, atlanta, pdf)

    response = api.get(
        f"{ANCHORS}/{signed['ref_horodatage']}.ots", headers=atlanta.headers
    )

    assert response.status_code == 409
    assert response.json()["erreur"]["code"] == "preuve_pas_encore_disponible"


def test_another_clients_anchor_is_not_found(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    from tests.conftest import provision

    signed = sign(api, atlanta, pdf)
    other = provision(runtime, name="Autre", label="Autre – système", body="AUTRESYS")

    response = api.get(f"{ANCHORS}/{signed['ref_horodatage']}", headers=other.headers)

    assert response.status_code == 404
    assert response.json()["erreur"]["code"] == "horodatage_inconnu"


@pytest.mark.parametrize("trouble", ["error", "hang"])
def test_calendar_outage_keeps_digests_queued_and_signing_goes_on(
    api: TestClient,
    atlanta: Provisioned,
    pdf: bytes,
    anchoring: Anchoring,
    trouble: str,
) -> None:
    for calendar in anchoring.calendars:
        calendar.mode = trouble
        calendar.hang_seconds = 2  # past the worker's 1 s timeout

    signed = sign(api, atlanta, pdf)
    anchoring.later(seconds=1)
    during = status(api, atlanta, signed["ref_horodatage"])
    still_signing = sign(api, atlanta, pdf)
    for calendar in anchoring.calendars:
        calendar.mode = "ok"
    anchoring.later(minutes=15)
    after = status(api, atlanta, signed["ref_horodatage"])

    assert during["statut"] == "en_attente"
    assert all(
        c["statut"] == "en_attente" and c["erreur"] for c in during["calendriers"]
    )
    assert still_signing["statut"] == "signe"
    assert after["statut"] == "soumis"


def test_calendars_refusing_connections_leave_digests_queued(
    api: TestClient, atlanta: Provisioned, pdf: bytes, anchoring: Anchoring
) -> None:
    # Nothing listens on these ports: every connection is refused.
    anchoring.worker.policy.calendars = ["http://127.0.0.1:9", "http://127.0.0.1:1"]

    signed = sign(api, atlanta, pdf)
    anchoring.later(seconds=1)
    anchoring.later(minutes=15)
    record = status(api, atlanta, signed["ref_horodatage"])

    assert record["statut"] == "en_attente"
    assert [c["erreur"] for c in record["calendriers"]] == ["ConnectError"] * 2
    assert all(c["tentatives"] == 2 for c in record["calendriers"])
    assert sign(api, atlanta, pdf)["statut"] == "signe"


def test_one_calendar_down_does_not_stop_anchoring(
    api: TestClient, atlanta: Provisioned, pdf: bytes, anchoring: Anchoring
) -> None:
    anchoring.calendars[1].mode = "error"
    signed = sign(api, atlanta, pdf)

    anchoring.later(seconds=1)
    record = status(api, atlanta, signed["ref_horodatage"])
    anchoring.calendars[1].mode = "ok"
    anchoring.later(minutes=15)
    healed = status(api, atlanta, signed["ref_horodatage"])

    assert record["statut"] == "soumis"
    assert [c["statut"] for c in record["calendriers"]] == ["accepte", "en_attente"]
    assert [c["statut"] for c in healed["calendriers"]] == ["accepte", "accepte"]
    assert len(anchoring.calendars[1].digests_received) == 1


def test_header_with_another_merkle_root_is_never_confirmed(
    api: TestClient,
    atlanta: Provisioned,
    pdf: bytes,
    anchoring: Anchoring,
    tmp_path: Path,
) -> None:
    from sceau.ops.metrics import ANCHOR_BITCOIN_CHECK_FAILURES

    signed = sign(api, atlanta, pdf)
    anchoring.later(seconds=1)
    anchoring.calendars[0].complete(height=900_003)
    anchoring.chain.lie_at.add(900_003)
    failures = ANCHOR_BITCOIN_CHECK_FAILURES._value.get()

    anchoring.later(minutes=2)
    record = status(api, atlanta, signed["ref_horodatage"])
    proof = api.get(
        f"{ANCHORS}/{signed['ref_horodatage']}.ots", headers=atlanta.headers
    )
    path = tmp_path / "p.ots"
    path.write_bytes(proof.content)

    assert record["statut"] == "soumis"
    assert record["bloc"] is None
    assert ANCHOR_BITCOIN_CHECK_FAILURES._value.get() == failures + 1
    # The refused attestation is not handed out in the proof either.
    assert "BitcoinBlockHeaderAttestation" not in ots("info", str(path))

    anchoring.chain.lie_at.clear()
    anchoring.later(hours=1)
    assert status(api, atlanta, signed["ref_horodatage"])["statut"] == "confirme"


def test_header_source_down_delays_confirmation_only(
    api: TestClient, atlanta: Provisioned, pdf: bytes, anchoring: Anchoring
) -> None:
    signed = sign(api, atlanta, pdf)
    anchoring.later(seconds=1)
    anchoring.calendars[0].complete(height=900_004)
    anchoring.chain.down = True

    anchoring.later(minutes=2)
    during = status(api, atlanta, signed["ref_horodatage"])
    anchoring.chain.down = False
    anchoring.later(hours=1)

    assert during["statut"] == "soumis"
    assert status(api, atlanta, signed["ref_horodatage"])["statut"] == "confirme"


def test_bitcoin_core_rpc_is_a_header_source_too(
    api: TestClient, atlanta: Provisioned, pdf: bytes, anchoring: Anchoring
) -> None:
    from sceau.anchoring.bitcoin import BitcoinCoreHeaderSource

    anchoring.worker.headers = BitcoinCoreHeaderSource(
        anchoring.chain.url.replace("http://", "http://user:secret@") + "/"
    )
    signed = sign(api, atlanta, pdf)
    anchoring.later(seconds=1)
    anchoring.calendars[1].complete(height=900_005)

    anchoring.later(minutes=2)

    assert status(api, atlanta, signed["ref_horodatage"])["bloc"]["hauteur"] == 900_005


def test_client_library_reads_the_anchor_and_its_proof(
    runtime: Runtime,
    atlanta: Provisioned,
    pdf: bytes,
    anchoring: Anchoring,
    tmp_path: Path,
) -> None:
    from sceau.client import SceauApiError, SceauClient
    from tests.support.servers import live_app

    with (
        live_app(runtime.settings, runtime) as app,
        SceauClient(app.base_url, atlanta.api_key) as sceau,
    ):
        signed = sceau.sign_system(
            code_09=atlanta.code_09,
            nom_signataire=atlanta.label,
            motif="Attestation",
            pdf=pdf,
            niveau="B-T",
        )
        with pytest.raises(SceauApiError) as early:
            sceau.download_proof(signed.ref_horodatage)
        anchoring.later(seconds=1)
        record = sceau.get_anchor(signed.ref_horodatage)
        proof = sceau.download_proof(signed.ref_horodatage)

    path = tmp_path / "acte.pdf.ots"
    path.write_bytes(proof)
    assert early.value.code == "preuve_pas_encore_disponible"
    assert record["statut"] == "soumis"
    assert hashlib.sha256(signed.pdf_signe).hexdigest() in ots("info", str(path))
