"""The matrix in force holds every request of its client: ``POST /signer`` in
both modes, ``POST /actes``, and ``POST /actes/auto`` where it decides."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sceau.delegations.models import DelegationRefusal
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from tests.authority.conftest import (
    KINDS,
    THRESHOLD,
    insurer_rules,
    publish,
    set_catalogue,
)
from tests.conftest import Provisioned, sign_body
from tests.delegations.conftest import (
    SIGN,
    TUESDAY_10H,
    api,
    at,
    delegated_body,
    director,
    signed_delegation,
)
from tests.people.conftest import Registered
from tests.support.pdfs import one_page_pdf

__all__ = ["api", "director"]

ACTS = "/api/v1/sceau/b2b/actes"
AUTO = "/api/v1/sceau/b2b/actes/auto"
SIGNATURES = "/api/v1/sceau/b2b/signatures"


def _publish(
    runtime: Runtime, atlanta: Provisioned, director: Registered, **options: Any
) -> None:
    """The sheet's insurer: certificates by the system, policies under
    5 000 000 FCFA under the director's delegation, above it by her in
    person."""
    set_catalogue(runtime, atlanta, KINDS)
    publish(runtime, atlanta, insurer_rules(atlanta, director), **options)


def _auto_body(type_acte: str, montant: int | None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type_acte": type_acte,
        "motif": "Acte décidé par la matrice",
        "pdf_b64": base64.b64encode(one_page_pdf()).decode(),
        "niveau": "B-T",
    }
    if montant is not None:
        body["montant"] = montant
    body.update(overrides)
    return body


def _act_body(code_09: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code_09": code_09,
        "motif": "Police flotte n° 2026-900",
        "pdf_b64": base64.b64encode(one_page_pdf()).decode(),
        "niveau": "B-T",
    }
    body.update(overrides)
    return body


def _records(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(SignatureRecord)) or 0


def test_a_system_request_states_its_kind_and_records_the_matrix_version(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    _publish(runtime, atlanta, director)
    pdf = one_page_pdf()

    silent = api.post(SIGN, json=sign_body(atlanta, pdf), headers=atlanta.headers)
    attestation = api.post(
        SIGN,
        json=sign_body(atlanta, pdf, type_acte="attestation"),
        headers=atlanta.headers,
    )
    policy = api.post(
        SIGN,
        json=sign_body(atlanta, pdf, type_acte="police_assurance", montant=10),
        headers=atlanta.headers,
    )

    assert silent.status_code == 422
    assert silent.json()["erreur"]["code"] == "type_acte_requis"
    assert attestation.status_code == 200, attestation.text
    assert "X-Pixel-Avertissement" not in attestation.headers
    record = api.get(
        f"{SIGNATURES}/{attestation.json()['ref_signature']}", headers=atlanta.headers
    ).json()
    assert record["version_matrice"] == 1
    assert record["type_acte"] == "attestation"
    assert policy.status_code == 403
    error = policy.json()["erreur"]
    assert error["code"] == "contraire_a_la_matrice"
    assert error["regle"] == "R2" and error["mode_attendu"] == "deleguee"
    assert _records(runtime) == 1


def test_a_delegated_request_the_matrix_sends_to_the_person_is_refused_by_it(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    signed = signed_delegation(runtime, api, atlanta, director, montant_max=50_000_000)
    _publish(runtime, atlanta, director)
    at(api, TUESDAY_10H)

    routine = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)
    large = api.post(
        SIGN, json=delegated_body(director, montant=THRESHOLD), headers=atlanta.headers
    )

    assert routine.status_code == 200, routine.text
    assert routine.json()["ref_delegation"] == signed.ref
    record = api.get(
        f"{SIGNATURES}/{routine.json()['ref_signature']}", headers=atlanta.headers
    ).json()
    assert record["version_matrice"] == 1
    # Inside the delegation's own envelope, but the matrix wants her in person.
    assert large.status_code == 403
    assert large.json()["erreur"]["code"] == "contraire_a_la_matrice"
    assert large.json()["erreur"]["regle"] == "R3"
    with runtime.db.sessions() as session:
        refusals = session.scalar(select(func.count()).select_from(DelegationRefusal))
    assert refusals == 0  # the client's mistake, not a delegation's limit


def test_an_act_prepared_for_a_person_is_held_to_the_matrix(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    _publish(runtime, atlanta, director)

    large = api.post(
        ACTS,
        json=_act_body(
            director.code_09, type_acte="police_assurance", montant=9_000_000
        ),
        headers=atlanta.headers,
    )
    routine = api.post(
        ACTS,
        json=_act_body(director.code_09, type_acte="police_assurance", montant=100),
        headers=atlanta.headers,
    )

    assert large.status_code == 201, large.text
    assert large.json()["version_matrice"] == 1
    assert large.json()["type_acte"] == "police_assurance"
    assert large.json()["montant"] == 9_000_000
    assert routine.status_code == 403
    assert routine.json()["erreur"]["code"] == "contraire_a_la_matrice"


def test_the_matrix_decides_each_mode_in_one_call(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    signed = signed_delegation(runtime, api, atlanta, director)
    _publish(runtime, atlanta, director)
    at(api, TUESDAY_10H)

    system = api.post(
        AUTO, json=_auto_body("attestation", None), headers=atlanta.headers
    )
    delegated = api.post(
        AUTO, json=_auto_body("police_assurance", 1_250_000), headers=atlanta.headers
    )
    person = api.post(
        AUTO, json=_auto_body("police_assurance", 8_000_000), headers=atlanta.headers
    )
    anyone = api.post(
        AUTO, json=_auto_body("contrat_reassurance", 2_000_000), headers=atlanta.headers
    )
    gap = api.post(
        AUTO, json=_auto_body("contrat_reassurance", 10), headers=atlanta.headers
    )

    assert system.status_code == 200, system.text
    assert system.json()["mode"] == "systeme"
    assert system.json()["regle"] == "R1" and system.json()["version_matrice"] == 1
    assert system.json()["statut"] == "signe"
    assert delegated.status_code == 200, delegated.text
    assert delegated.json()["mode"] == "deleguee"
    assert delegated.json()["ref_delegation"] == signed.ref
    assert delegated.json()["regle"] == "R2"
    assert person.status_code == 201, person.text
    assert person.json()["mode"] == "humaine"
    assert person.json()["statut"] == "en_attente"
    assert person.json()["ref_acte"].startswith("ACT-")
    assert person.json()["code_09"] == director.code_09
    assert person.json()["regle"] == "R3"
    assert anyone.status_code == 409
    assert anyone.json()["erreur"]["code"] == "regle_sans_signataire"
    assert gap.status_code == 403
    assert gap.json()["erreur"]["code"] == "hors_matrice"


def test_the_matrix_decides_nothing_for_a_client_without_one(
    api: TestClient, atlanta: Provisioned
) -> None:
    answer = api.post(
        AUTO, json=_auto_body("attestation", None), headers=atlanta.headers
    )

    assert answer.status_code == 409
    assert answer.json()["erreur"]["code"] == "matrice_absente"


def test_a_repeated_auto_request_gets_the_first_answer(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    _publish(runtime, atlanta, director)
    headers = atlanta.headers | {"Idempotency-Key": "auto-2026-900"}
    signed_body = _auto_body("attestation", None)
    act_headers = atlanta.headers | {"Idempotency-Key": "auto-2026-901"}
    act_body = _auto_body("police_assurance", 8_000_000)

    first = api.post(AUTO, json=signed_body, headers=headers)
    again = api.post(AUTO, json=signed_body, headers=headers)
    act = api.post(AUTO, json=act_body, headers=act_headers)
    act_again = api.post(AUTO, json=act_body, headers=act_headers)

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["ref_signature"] == first.json()["ref_signature"]
    assert again.json()["version_matrice"] == 1
    assert act_again.status_code == 201
    assert act_again.headers["Idempotent-Replayed"] == "true"
    assert act_again.json()["ref_acte"] == act.json()["ref_acte"]
    assert _records(runtime) == 1


def test_an_overdue_matrix_warns_or_refuses_as_its_policy_says(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    _publish(runtime, atlanta, director, review_due=date(2026, 12, 31))
    body = sign_body(atlanta, one_page_pdf(), type_acte="attestation")

    at(api, TUESDAY_10H.replace(year=2026, month=12, day=31, hour=23))
    on_the_day = api.post(SIGN, json=body, headers=atlanta.headers)
    at(api, TUESDAY_10H.replace(year=2027, month=1, day=1))
    late = api.post(SIGN, json=body, headers=atlanta.headers)
    publish(
        runtime,
        atlanta,
        insurer_rules(atlanta, director),
        review_due=date(2026, 12, 31),
        policy="refuser",
    )
    refused = api.post(SIGN, json=body, headers=atlanta.headers)

    assert on_the_day.status_code == 200
    assert "X-Pixel-Avertissement" not in on_the_day.headers
    assert late.status_code == 200
    assert "2026-12-31" in late.headers["X-Pixel-Avertissement"]
    assert "matrice d'autorite (version 1)" in late.headers["X-Pixel-Avertissement"]
    assert refused.status_code == 403
    assert refused.json()["erreur"]["code"] == "matrice_a_revoir"


def test_a_refused_auto_request_leaves_its_idempotency_key_free(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    set_catalogue(runtime, atlanta, KINDS)
    publish(
        runtime,
        atlanta,
        [
            {
                "type_acte": "police_assurance",
                "mode": "deleguee",
                "code_09": director.code_09,
            }
        ],
    )
    headers = atlanta.headers | {"Idempotency-Key": "auto-sans-montant"}
    body = _auto_body("police_assurance", None)

    first = api.post(AUTO, json=body, headers=headers)
    second = api.post(AUTO, json=body, headers=headers)

    for answer in (first, second):
        assert answer.status_code == 422, answer.text
        assert answer.json()["erreur"]["code"] == "champ_invalide"
        assert "montant" in answer.json()["erreur"]["message"]


def test_an_impossible_matrix_version_number_is_refused_not_failed(
    api: TestClient, atlanta: Provisioned
) -> None:
    answer = api.get(
        "/api/v1/sceau/b2b/matrice/versions/99999999999999999999",
        headers=atlanta.headers,
    )

    assert answer.status_code == 400
    assert answer.json()["erreur"]["code"] == "parametre_invalide"
