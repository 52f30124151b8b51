"""What the audit trail keeps of signatures, as an auditor reads it: each one
made through the API with who asked (the key, the level, the address), the
document's SHA-256 before and after, and the request it answered; a person's
own document signed in the page; each one refused with its code and nothing
else; nothing of a signature that rolled back; and never a secret."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.audit.actors import Actor
from sceau.audit.service import entries_about
from sceau.db import iso_utc
from sceau.documents.sealing import SERVICE_CLIENT_ID, sign_as_service
from sceau.identities.models import Identity
from sceau.modes.names import MODE_SYSTEM
from sceau.modes.pipeline import SigningJob, sign_and_record
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from tests.audit.conftest import entries_of, stored_text
from tests.auth.conftest import json_bytes, new_hmac_secret, signed_headers, with_level
from tests.authority.test_enforcement import AUTO, _auto_body, _publish
from tests.conftest import Provisioned, sign_body
from tests.delegations.conftest import director
from tests.people.conftest import Registered
from tests.support.pdfs import one_page_pdf
from tests.web.conftest import (
    Account,
    FrozenClock,
    clock,
    enrolled,
    logged_in,
    mailbox,
    notary,
    runtime,
    site,
)
from tests.web.test_signing_pages import sign, upload

__all__ = [
    "clock",
    "director",
    "enrolled",
    "logged_in",
    "mailbox",
    "notary",
    "runtime",
    "site",
]

SIGNER = "/api/v1/sceau/b2b/signer"


def signing_actions(runtime: Runtime) -> list[str]:
    return [
        entry.action
        for entry in entries_of(runtime)
        if entry.action.startswith("signature.")
    ]


def test_an_api_signature_is_in_the_trail_with_who_asked_and_the_hashes(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    response = api.post(SIGNER, json=sign_body(atlanta, pdf), headers=atlanta.headers)

    assert response.status_code == 200, response.text
    answer = response.json()
    signed = base64.b64decode(answer["pdf_signe_b64"])
    with runtime.db.sessions() as session:
        about = entries_about(session, [answer["ref_signature"]])
    [entry] = [e for e in about if e.action == "signature.signee"]
    assert entry.subject == answer["ref_signature"]
    assert entry.client_id == atlanta.client_id
    assert entry.actor["kind"] == "client"
    assert entry.actor["client_id"] == atlanta.client_id
    assert entry.actor["key_id"] == atlanta.api_key_id
    assert entry.actor["level"] == "A"
    assert entry.actor["address"]  # the test client's, as the service saw it
    assert entry.hashes == {
        "source": hashlib.sha256(pdf).hexdigest(),
        "signe": hashlib.sha256(signed).hexdigest(),
    }
    assert entry.hashes["signe"] == answer["sha256_signe"]
    assert entry.objects == {
        "signature": answer["ref_signature"],
        "identite": atlanta.code_09,
        "horodatage": answer["ref_horodatage"],
    }
    assert entry.details["mode"] == MODE_SYSTEM
    assert entry.details["motif"] == "Attestation de garantie n° 2026-04231"
    assert entry.details["niveau_pades"] == runtime.settings.default_level
    assert entry.request_id == response.headers["X-Request-Id"]
    assert "signature.refusee" not in signing_actions(runtime)


def test_an_unknown_code_09_leaves_a_refusal_and_no_signature(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    unknown = "09S-INCONNU-X"
    response = api.post(
        SIGNER,
        json=sign_body(atlanta, pdf, code_09=unknown),
        headers=atlanta.headers,
    )

    assert 400 <= response.status_code < 500, response.text
    code = response.json()["erreur"]["code"]
    assert signing_actions(runtime) == ["signature.refusee"]
    [entry] = entries_of(runtime, "signature.refusee")
    assert entry.details == {"code": code, "statut_http": response.status_code}
    assert entry.objects == {"identite": unknown}
    assert entry.actor["key_id"] == atlanta.api_key_id
    assert entry.client_id == atlanta.client_id
    assert entry.request_id == response.headers["X-Request-Id"]
    assert entry.hashes == {}


def test_a_pdf_too_large_leaves_a_refusal_with_its_code(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    runtime.settings.max_pdf_bytes = len(pdf) - 1

    response = api.post(SIGNER, json=sign_body(atlanta, pdf), headers=atlanta.headers)

    assert response.status_code == 413, response.text
    assert signing_actions(runtime) == ["signature.refusee"]
    [entry] = entries_of(runtime, "signature.refusee")
    assert entry.details == {"code": "pdf_trop_volumineux", "statut_http": 413}
    with runtime.db.sessions() as session:
        assert session.scalar(select(SignatureRecord.ref)) is None


def test_an_unauthenticated_request_leaves_nothing(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    response = api.post(
        SIGNER,
        json=sign_body(atlanta, pdf),
        headers={"X-Identity-API-Key": "pas-la-bonne-cle"},
    )

    assert response.status_code == 401
    assert signing_actions(runtime) == []


def test_a_signature_that_rolls_back_leaves_no_entry(
    runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    with runtime.db.sessions() as session:
        identity = session.get_one(Identity, atlanta.code_09)

    def fail(session: Session, record: SignatureRecord) -> None:
        raise RuntimeError("the step after the record fails")

    with pytest.raises(RuntimeError):
        sign_and_record(
            runtime,
            SigningJob(
                client_id=atlanta.client_id,
                identity=identity,
                mode=MODE_SYSTEM,
                reason="Attestation",
                pdf=pdf,
                level="B-B",
                request_id="req-rollback",
                started=time.perf_counter(),
                actor=Actor.service(),
            ),
            within=fail,
        )

    assert signing_actions(runtime) == []
    with runtime.db.sessions() as session:
        assert session.scalar(select(SignatureRecord.ref)) is None


def test_no_secret_reaches_the_trail(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    signed = api.post(SIGNER, json=sign_body(atlanta, pdf), headers=atlanta.headers)
    refused = api.post(
        SIGNER,
        json=sign_body(atlanta, pdf, code_09="09S-INCONNU-X"),
        headers=atlanta.headers,
    )

    assert signed.status_code == 200 and refused.status_code >= 400
    text = stored_text(runtime)
    assert atlanta.api_key not in text
    assert base64.b64encode(pdf).decode()[:40] not in text
    assert signed.json()["pdf_signe_b64"][:40] not in text


def test_a_level_b_signature_names_the_hmac_key_and_never_its_secret(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    with_level(runtime, atlanta, "B")
    secret = new_hmac_secret(runtime, atlanta)
    body = json_bytes(sign_body(atlanta, pdf))
    headers = signed_headers(atlanta, secret, method="POST", path=SIGNER, body=body)

    response = api.post(
        SIGNER, content=body, headers=headers | {"Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text
    [entry] = entries_of(runtime, "signature.signee")
    assert entry.actor["level"] == "B"
    assert entry.actor["hmac_key_id"]
    text = stored_text(runtime)
    assert secret not in text and atlanta.api_key not in text


def test_pixel_sceau_signs_its_own_documents_as_the_service(
    runtime: Runtime, pdf: bytes
) -> None:
    outcome = sign_as_service(runtime, pdf, "Rapport de vérification")

    with runtime.db.sessions() as session:
        about = entries_about(session, [outcome.record.ref])
    [entry] = [e for e in about if e.action == "signature.signee"]
    assert entry.actor == {"kind": "service", "id": "pixel-sceau"}
    assert entry.client_id == SERVICE_CLIENT_ID
    assert entry.hashes["source"] == hashlib.sha256(pdf).hexdigest()


def test_a_persons_own_document_signed_in_the_page_is_in_the_trail(
    site: TestClient, runtime: Runtime, logged_in: Account, clock: FrozenClock
) -> None:
    logged_in_at = clock.now()
    pdf = one_page_pdf()
    review_url = upload(site, pdf).headers["location"]
    draft_id = review_url.rsplit("/", 1)[1]
    clock.advance(seconds=30)
    good = logged_in.code_at(clock.now())
    wrong = sign(site, review_url, f"{(int(good) + 1) % 1_000_000:06d}")
    clock.advance(seconds=30)

    signed = sign(site, review_url, logged_in.code_at(clock.now()))

    assert wrong.status_code >= 400 and signed.status_code == 303, signed.text
    assert [
        e.action
        for e in entries_of(runtime)
        if e.action.startswith(("signature.", "document."))
    ] == ["signature.refusee", "signature.signee", "document.signe"]
    with runtime.db.sessions() as session:
        about = entries_about(session, [draft_id])
    refused, signature, document = about
    assert refused.details["code"] == "code_totp_invalide"
    assert refused.client_id == signature.client_id
    assert refused.objects["brouillon"] == draft_id
    sha256 = hashlib.sha256(pdf).hexdigest()
    assert signature.actor["kind"] == "personne" and signature.actor["address"]
    assert signature.objects["brouillon"] == draft_id
    assert signature.hashes["source"] == sha256
    assert signature.details["connecte_le"] == iso_utc(logged_in_at)
    assert document.subject == signature.subject
    assert document.actor == signature.actor
    assert document.hashes == signature.hashes
    assert document.details["sha256_affiche"] == sha256
    assert document.details["totp_verifie_le"] == iso_utc(clock.now())
    assert document.details["nom_fichier"] == "acte.pdf"
    assert logged_in.secret not in stored_text(runtime)


def test_a_code_09_too_long_for_a_reference_still_leaves_a_refusal(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    typed = "09S-" + "X" * 90

    response = api.post(
        SIGNER, json=sign_body(atlanta, pdf, code_09=typed), headers=atlanta.headers
    )

    assert 400 <= response.status_code < 500, response.text
    [entry] = entries_of(runtime, "signature.refusee")
    assert entry.subject is None
    assert entry.objects == {"identite": typed}
    assert entry.details["code"] == response.json()["erreur"]["code"]
    assert entry.client_id == atlanta.client_id


def test_a_replayed_request_leaves_one_signature_in_the_trail(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    headers = atlanta.headers | {"Idempotency-Key": "trail-2026-04231"}
    body = sign_body(atlanta, pdf)

    first = api.post(SIGNER, json=body, headers=headers)
    again = api.post(SIGNER, json=body, headers=headers)

    assert first.status_code == again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert signing_actions(runtime) == ["signature.signee"]


def test_the_matrix_route_records_its_rule_signatures_refusals_and_acts(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    director: Registered,
) -> None:
    _publish(runtime, atlanta, director)

    system = api.post(
        AUTO, json=_auto_body("attestation", None), headers=atlanta.headers
    )
    person = api.post(
        AUTO, json=_auto_body("police_assurance", 8_000_000), headers=atlanta.headers
    )
    anyone = api.post(
        AUTO, json=_auto_body("contrat_reassurance", 2_000_000), headers=atlanta.headers
    )

    assert system.status_code == 200, system.text
    [signed] = entries_of(runtime, "signature.signee")
    assert signed.subject == system.json()["ref_signature"]
    assert signed.details["regle"] == "R1"
    assert signed.details["version_matrice"] == 1

    assert person.status_code == 201, person.text
    [made] = entries_of(runtime, "acte.cree")
    assert made.subject == person.json()["ref_acte"]
    assert made.actor["kind"] == "client"
    assert made.actor["key_id"] == atlanta.api_key_id
    assert made.actor["address"]
    assert made.details["version_matrice"] == 1

    assert anyone.status_code == 409, anyone.text
    [refused] = entries_of(runtime, "signature.refusee")
    rule = refused.details["regle"]
    assert f"La règle {rule} " in anyone.json()["erreur"]["message"]
    assert refused.details == {
        "code": "regle_sans_signataire",
        "statut_http": 409,
        "regle": rule,
        "version_matrice": 1,
    }
    assert refused.actor["key_id"] == atlanta.api_key_id
    assert refused.client_id == atlanta.client_id
    assert refused.request_id == anyone.headers["X-Request-Id"]
