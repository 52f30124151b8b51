"""``Idempotency-Key`` on the signing route, with Stripe's and the IETF draft's
semantics: a retry replays, a reuse is refused, a running request blocks."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update

from sceau.db import utcnow
from sceau.idempotency import service as idempotency
from sceau.idempotency.models import IdempotencyKey
from sceau.runtime import Runtime
from tests.conftest import Provisioned, provision, sign_body
from tests.modes.test_signing_errors import assert_french_error, row_counts

SIGN = "/api/v1/sceau/b2b/signer"


def _headers(provisioned: Provisioned, key: str) -> dict[str, str]:
    return {
        **provisioned.headers,
        "Idempotency-Key": key,
        "Content-Type": "application/json",
    }


def _raw(body: dict[str, object]) -> bytes:
    return json.dumps(body).encode()


def _rows(runtime: Runtime) -> list[IdempotencyKey]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(IdempotencyKey)))


def _claim_directly(runtime: Runtime, client_id: str, key: str, raw: bytes) -> None:
    """What the first request does before it signs; here it never finishes."""
    settings = runtime.settings
    outcome = idempotency.claim(
        runtime.db,
        client_id=client_id,
        key=key,
        request_fingerprint=idempotency.fingerprint("POST", SIGN, raw),
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        lock_timeout=timedelta(seconds=settings.idempotency_lock_seconds),
    )
    assert isinstance(outcome, idempotency.Claim)


def test_retry_with_same_key_and_body_replays_first_answer(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    raw = _raw(sign_body(atlanta, pdf))
    headers = _headers(atlanta, "attestation-2026-04231")

    first = api.post(SIGN, headers=headers, content=raw)
    second = api.post(SIGN, headers=headers, content=raw)

    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    assert second.status_code == 200, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert row_counts(runtime) == {
        "signatures": 1,
        "signed_documents": 1,
        "anchors": 1,
        "idempotency_keys": 1,
    }
    (row,) = _rows(runtime)
    assert row.state == "termine"
    assert row.ref_signature == first.json()["ref_signature"]


def test_retry_with_same_key_and_body_replays_with_json_helper(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    body = sign_body(atlanta, pdf, niveau="B-B")
    headers = {**atlanta.headers, "Idempotency-Key": "k" * 255}

    answers = [api.post(SIGN, headers=headers, json=body) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers.get("idempotent-replayed") for a in answers] == [
        None,
        "true",
        "true",
    ]
    assert len({a.json()["ref_signature"] for a in answers}) == 1
    assert len({a.json()["pdf_signe_b64"] for a in answers}) == 1
    assert row_counts(runtime)["signatures"] == 1


def test_reuse_of_key_with_other_body_is_refused(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    headers = _headers(atlanta, "attestation-2026-04231")
    first = api.post(SIGN, headers=headers, content=_raw(sign_body(atlanta, pdf)))
    assert first.status_code == 200, first.text
    before = row_counts(runtime)

    other = _raw(sign_body(atlanta, pdf, motif="Avenant n° 2"))
    response = api.post(SIGN, headers=headers, content=other)

    assert_french_error(response, 422, "cle_idempotence_reutilisee")
    assert "idempotent-replayed" not in response.headers
    assert row_counts(runtime) == before
    (row,) = _rows(runtime)
    assert row.ref_signature == first.json()["ref_signature"]


def test_retry_while_first_runs_is_refused_with_conflict(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    raw = _raw(sign_body(atlanta, pdf))
    _claim_directly(runtime, atlanta.client_id, "en-vol-0001", raw)
    before = row_counts(runtime)

    response = api.post(SIGN, headers=_headers(atlanta, "en-vol-0001"), content=raw)

    assert_french_error(response, 409, "requete_en_cours")
    assert row_counts(runtime) == before
    # The first request's claim is untouched: it is still running.
    (row,) = _rows(runtime)
    assert (row.state, row.ref_signature) == ("en_cours", None)


def test_retry_with_other_body_while_first_runs_is_refused(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    _claim_directly(
        runtime, atlanta.client_id, "en-vol-0002", _raw(sign_body(atlanta, pdf))
    )
    before = row_counts(runtime)

    other = _raw(sign_body(atlanta, pdf, motif="Avenant n° 2"))
    response = api.post(SIGN, headers=_headers(atlanta, "en-vol-0002"), content=other)

    assert_french_error(response, 422, "cle_idempotence_reutilisee")
    assert row_counts(runtime) == before


def test_stale_claim_is_taken_over(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    raw = _raw(sign_body(atlanta, pdf))
    _claim_directly(runtime, atlanta.client_id, "abandonnee-0001", raw)
    lock = timedelta(seconds=runtime.settings.idempotency_lock_seconds)
    with runtime.db.transaction() as session:
        session.execute(
            update(IdempotencyKey).values(
                locked_at=utcnow() - lock - timedelta(seconds=1)
            )
        )
    headers = _headers(atlanta, "abandonnee-0001")

    taken_over = api.post(SIGN, headers=headers, content=raw)
    replayed = api.post(SIGN, headers=headers, content=raw)

    assert taken_over.status_code == 200, taken_over.text
    assert "idempotent-replayed" not in taken_over.headers
    assert replayed.status_code == 200, replayed.text
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["ref_signature"] == taken_over.json()["ref_signature"]
    assert row_counts(runtime)["signatures"] == 1
    (row,) = _rows(runtime)
    assert (row.state, row.ref_signature) == (
        "termine",
        taken_over.json()["ref_signature"],
    )


def test_claim_just_under_lock_timeout_still_blocks(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    raw = _raw(sign_body(atlanta, pdf))
    _claim_directly(runtime, atlanta.client_id, "en-vol-0003", raw)
    lock = timedelta(seconds=runtime.settings.idempotency_lock_seconds)
    with runtime.db.transaction() as session:
        session.execute(
            update(IdempotencyKey).values(
                locked_at=utcnow() - lock + timedelta(seconds=30)
            )
        )

    response = api.post(SIGN, headers=_headers(atlanta, "en-vol-0003"), content=raw)

    assert_french_error(response, 409, "requete_en_cours")
    assert row_counts(runtime)["signatures"] == 0


def test_same_key_for_two_clients_signs_for_each(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    other = provision(
        runtime, name="Banque Lagune", label="Banque Lagune – guichet", body="LAGUNEBQ"
    )

    mine = api.post(
        SIGN,
        headers=_headers(atlanta, "commande-42"),
        content=_raw(sign_body(atlanta, pdf)),
    )
    theirs = api.post(
        SIGN,
        headers=_headers(other, "commande-42"),
        content=_raw(sign_body(other, pdf)),
    )

    assert mine.status_code == 200, mine.text
    assert theirs.status_code == 200, theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["ref_signature"] != theirs.json()["ref_signature"]
    assert row_counts(runtime)["signatures"] == 2
    assert {row.client_id for row in _rows(runtime)} == {
        atlanta.client_id,
        other.client_id,
    }


def test_same_key_and_body_for_two_clients_never_replays_across(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    """Another client sending Atlanta's exact bytes under Atlanta's key must not
    receive Atlanta's signed PDF: it is refused on the identity instead."""
    other = provision(
        runtime, name="Banque Lagune", label="Banque Lagune – guichet", body="LAGUNEBQ"
    )
    raw = _raw(sign_body(atlanta, pdf))
    first = api.post(SIGN, headers=_headers(atlanta, "commande-43"), content=raw)
    assert first.status_code == 200, first.text
    before = row_counts(runtime)

    response = api.post(SIGN, headers=_headers(other, "commande-43"), content=raw)

    assert_french_error(response, 403, "identite_non_autorisee")
    assert "idempotent-replayed" not in response.headers
    assert row_counts(runtime) == before


def test_failed_request_with_key_leaves_no_claim(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    wrong = _raw(sign_body(atlanta, pdf, nom_signataire="Atlanta Assurances"))
    headers = _headers(atlanta, "attestation-2026-04232")

    failed = api.post(SIGN, headers=headers, content=wrong)
    failed_again = api.post(SIGN, headers=headers, content=wrong)

    assert_french_error(failed, 422, "nom_signataire_incorrect")
    assert_french_error(failed_again, 422, "nom_signataire_incorrect")
    assert row_counts(runtime) == {
        "signatures": 0,
        "signed_documents": 0,
        "anchors": 0,
        "idempotency_keys": 0,
    }

    # The corrected request is a new body, hence a new claim under the same key.
    corrected = _raw(sign_body(atlanta, pdf))
    signed = api.post(SIGN, headers=headers, content=corrected)
    replayed = api.post(SIGN, headers=headers, content=corrected)

    assert signed.status_code == 200, signed.text
    assert "idempotent-replayed" not in signed.headers
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["ref_signature"] == signed.json()["ref_signature"]
    assert row_counts(runtime)["signatures"] == 1


@pytest.mark.parametrize(
    "change",
    [
        {"pdf_b64": ""},  # pdf_vide, in the engine
        {"code_09": "09S-ATLANTASYS-Y"},  # code_09_invalide, before the engine
    ],
)
def test_failed_request_with_key_can_be_retried_with_same_key(
    api: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    pdf: bytes,
    change: dict[str, object],
) -> None:
    headers = _headers(atlanta, "reessai-0001")

    failed = api.post(
        SIGN, headers=headers, content=_raw(sign_body(atlanta, pdf, **change))
    )
    signed = api.post(SIGN, headers=headers, content=_raw(sign_body(atlanta, pdf)))

    assert failed.status_code == 422, failed.text
    assert signed.status_code == 200, signed.text
    assert "idempotent-replayed" not in signed.headers
    assert row_counts(runtime)["signatures"] == 1


def test_expired_key_can_be_reused_with_new_body(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    headers = _headers(atlanta, "lot-2026-05")
    first = api.post(SIGN, headers=headers, content=_raw(sign_body(atlanta, pdf)))
    assert first.status_code == 200, first.text
    with runtime.db.transaction() as session:
        session.execute(
            update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1))
        )

    new = _raw(sign_body(atlanta, pdf, motif="Avenant n° 2"))
    second = api.post(SIGN, headers=headers, content=new)
    replayed = api.post(SIGN, headers=headers, content=new)

    assert second.status_code == 200, second.text
    assert "idempotent-replayed" not in second.headers
    assert second.json()["ref_signature"] != first.json()["ref_signature"]
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["ref_signature"] == second.json()["ref_signature"]
    assert row_counts(runtime)["signatures"] == 2
    (row,) = _rows(runtime)
    assert row.ref_signature == second.json()["ref_signature"]
    assert row.expires_at > utcnow()


def test_expired_key_with_same_body_signs_again(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    raw = _raw(sign_body(atlanta, pdf))
    headers = _headers(atlanta, "lot-2026-06")
    first = api.post(SIGN, headers=headers, content=raw)
    with runtime.db.transaction() as session:
        session.execute(
            update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1))
        )

    second = api.post(SIGN, headers=headers, content=raw)

    assert second.status_code == 200, second.text
    assert "idempotent-replayed" not in second.headers
    assert second.json()["ref_signature"] != first.json()["ref_signature"]
    assert row_counts(runtime)["signatures"] == 2


@pytest.mark.parametrize(
    "key",
    [
        "k" * 256,
        "k" * 300,
        "cle avec espaces",
        " ",
        "",
        "tab\tulation",
    ],
    ids=["256_car", "300_car", "espaces", "espace_seul", "vide", "tabulation"],
)
def test_sign_with_malformed_idempotency_key_is_refused(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes, key: str
) -> None:
    before = row_counts(runtime)

    response = api.post(
        SIGN, headers=_headers(atlanta, key), content=_raw(sign_body(atlanta, pdf))
    )

    assert_french_error(response, 400, "cle_idempotence_invalide")
    assert row_counts(runtime) == before
    assert _rows(runtime) == []


def test_sign_with_non_ascii_idempotency_key_is_refused(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    before = row_counts(runtime)
    headers: dict[str, str | bytes] = {
        **atlanta.headers,
        "Content-Type": "application/json",
        "Idempotency-Key": "clé-accentuée".encode(),
    }

    response = api.post(SIGN, headers=headers, content=_raw(sign_body(atlanta, pdf)))

    assert_french_error(response, 400, "cle_idempotence_invalide")
    assert row_counts(runtime) == before


def test_concurrent_retries_sign_only_once(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    raw = _raw(sign_body(atlanta, pdf))
    headers = _headers(atlanta, "rafale-0001")

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(lambda _: api.post(SIGN, headers=headers, content=raw), range(4))
        )

    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {200, 409}, [a.text for a in answers]
    assert 200 in statuses
    for answer in answers:
        if answer.status_code == 409:
            assert_french_error(answer, 409, "requete_en_cours")
    assert (
        len({a.json()["ref_signature"] for a in answers if a.status_code == 200}) == 1
    )
    assert row_counts(runtime)["signatures"] == 1
    after: Response = api.post(SIGN, headers=headers, content=raw)
    assert after.headers["idempotent-replayed"] == "true"
