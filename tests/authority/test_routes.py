"""``/api/v1/sceau/b2b/matrice`` over real HTTP, with real API keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from sceau.authority.service import add_months, business_date
from sceau.db import utcnow
from sceau.runtime import Runtime
from tests.authority.conftest import MATRIX, insurer_rules, publish, set_catalogue
from tests.conftest import Provisioned
from tests.modes.test_signing_errors import assert_french_error
from tests.people.conftest import Registered


def review_date(days: int = 300) -> str:
    return (business_date(utcnow()) + timedelta(days=days)).isoformat()


def matrix_body(rules: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "regles": rules,
        "revue_le": review_date(),
        "politique_revue": "avertir",
    }
    body.update(fields)
    return body


def put_matrix(api: TestClient, client: Provisioned, body: dict[str, Any]) -> Any:
    return api.put(MATRIX, json=body, headers=client.headers)


def test_a_client_without_matrix_is_told_so(
    api: TestClient, atlanta: Provisioned
) -> None:
    response = api.get(MATRIX, headers=atlanta.headers)

    assert_french_error(response, 404, "matrice_absente")
    assert "PUT /api/v1/sceau/b2b/matrice" in response.json()["erreur"]["message"]
    listed = api.get(f"{MATRIX}/versions", headers=atlanta.headers)
    assert listed.status_code == 200 and listed.json() == {"versions": []}


def test_a_published_matrix_reads_back_as_sent(
    api: TestClient,
    atlanta: Provisioned,
    notary: Registered,
    catalogue: dict[str, str],
) -> None:
    body = matrix_body(insurer_rules(atlanta, notary), politique_revue="refuser")

    created = put_matrix(api, atlanta, body)
    current = api.get(MATRIX, headers=atlanta.headers)

    assert created.status_code == 201, created.text
    answer = created.json()
    assert set(answer) == {
        "version",
        "regles",
        "revue_le",
        "politique_revue",
        "en_retard",
        "en_vigueur",
        "publiee_le",
        "auteur",
    }
    assert answer["version"] == 1
    assert answer["regles"][2] == {
        "numero": "R3",
        "type_acte": "police_assurance",
        "montant_min": 5_000_000,
        "montant_max": None,
        "mode": "humaine",
        "code_09": notary.code_09,
    }
    assert answer["regles"][0]["montant_min"] == 0
    assert answer["revue_le"] == body["revue_le"]
    assert answer["politique_revue"] == "refuser"
    assert answer["en_retard"] is False and answer["en_vigueur"] is True
    assert answer["auteur"] == f"api:{atlanta.api_key_id}"
    assert answer["publiee_le"].endswith("Z")
    assert current.status_code == 200 and current.json() == answer


def test_a_matrix_read_can_be_sent_back_as_the_next_version(
    api: TestClient,
    atlanta: Provisioned,
    notary: Registered,
    catalogue: dict[str, str],
) -> None:
    first = put_matrix(api, atlanta, matrix_body(insurer_rules(atlanta, notary)))
    read = first.json()

    again = put_matrix(
        api,
        atlanta,
        {"regles": read["regles"][::-1], "revue_le": review_date(360)},
    )

    assert again.status_code == 201, again.text
    assert again.json()["version"] == 2
    assert [r["numero"] for r in again.json()["regles"]] == ["R1", "R2", "R3", "R4"]
    assert again.json()["regles"][0]["type_acte"] == "contrat_reassurance"
    assert again.json()["politique_revue"] == "avertir"


def test_the_same_put_sent_twice_answers_the_same_version(
    api: TestClient,
    atlanta: Provisioned,
    notary: Registered,
    catalogue: dict[str, str],
) -> None:
    body = matrix_body(insurer_rules(atlanta, notary))

    first = put_matrix(api, atlanta, body)
    again = put_matrix(api, atlanta, body)

    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    listed = api.get(f"{MATRIX}/versions", headers=atlanta.headers).json()
    assert [v["version"] for v in listed["versions"]] == [1]


def test_versions_are_listed_newest_first_and_each_can_be_read(
    api: TestClient,
    atlanta: Provisioned,
    notary: Registered,
    catalogue: dict[str, str],
) -> None:
    put_matrix(api, atlanta, matrix_body(insurer_rules(atlanta, notary)))
    put_matrix(
        api, atlanta, matrix_body([{"type_acte": "attestation", "mode": "systeme"}])
    )

    listed = api.get(f"{MATRIX}/versions", headers=atlanta.headers).json()
    first = api.get(f"{MATRIX}/versions/1", headers=atlanta.headers)
    missing = api.get(f"{MATRIX}/versions/3", headers=atlanta.headers)

    assert [
        (v["version"], v["nombre_regles"], v["en_vigueur"]) for v in listed["versions"]
    ] == [
        (2, 1, True),
        (1, 4, False),
    ]
    assert "regles" not in listed["versions"][0]
    assert first.status_code == 200
    assert len(first.json()["regles"]) == 4
    assert first.json()["en_vigueur"] is False
    assert_french_error(missing, 404, "version_matrice_inconnue")


def test_an_invalid_rule_is_refused_naming_it(
    api: TestClient, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    response = put_matrix(
        api,
        atlanta,
        matrix_body(
            [
                {"type_acte": "attestation", "mode": "systeme"},
                {"type_acte": "police_assurance", "mode": "robot"},
            ]
        ),
    )

    assert_french_error(response, 422, "matrice_invalide")
    assert response.json()["erreur"]["message"].startswith(
        "Règle R2 : le mode « robot » est inconnu"
    )
    assert api.get(MATRIX, headers=atlanta.headers).status_code == 404


def test_overlapping_ranges_are_refused(
    api: TestClient, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    response = put_matrix(
        api,
        atlanta,
        matrix_body(
            [
                {
                    "type_acte": "police_assurance",
                    "montant_max": 5_000_000,
                    "mode": "deleguee",
                },
                {
                    "type_acte": "police_assurance",
                    "montant_min": 4_999_999,
                    "mode": "humaine",
                },
            ]
        ),
    )

    assert_french_error(response, 422, "matrice_invalide")
    assert "Les règles R1 et R2 se chevauchent" in response.json()["erreur"]["message"]


def test_review_date_and_policy_faults_are_faults_of_the_matrix(
    api: TestClient, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    rules = [{"type_acte": "attestation", "mode": "systeme"}]
    too_far = add_months(business_date(utcnow()), 13) + timedelta(days=1)

    not_a_date = put_matrix(api, atlanta, matrix_body(rules, revue_le="fin 2027"))
    far = put_matrix(api, atlanta, matrix_body(rules, revue_le=too_far.isoformat()))
    policy = put_matrix(api, atlanta, matrix_body(rules, politique_revue="oublier"))
    missing = put_matrix(api, atlanta, {"regles": rules})

    for response in (not_a_date, far, policy, missing):
        assert_french_error(response, 422, "matrice_invalide")
    assert "revue_le" in not_a_date.json()["erreur"]["message"]
    assert "trop lointaine" in far.json()["erreur"]["message"]
    assert "oublier" in policy.json()["erreur"]["message"]


def test_the_body_must_be_json(api: TestClient, atlanta: Provisioned) -> None:
    response = api.put(
        MATRIX,
        content=b"regles=1",
        headers={**atlanta.headers, "Content-Type": "text/plain"},
    )
    malformed = api.put(
        MATRIX,
        content=b"{",
        headers={**atlanta.headers, "Content-Type": "application/json"},
    )

    assert_french_error(response, 415, "type_contenu_invalide")
    assert_french_error(malformed, 400, "json_invalide")


def test_the_matrix_needs_an_api_key(api: TestClient) -> None:
    assert_french_error(api.get(MATRIX), 401, "cle_api_manquante")
    assert_french_error(api.put(MATRIX, json=matrix_body([])), 401, "cle_api_manquante")


def test_a_version_past_its_review_date_reads_as_late(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    long_ago = utcnow() - timedelta(days=40)
    publish(
        runtime,
        atlanta,
        [{"type_acte": "attestation", "mode": "systeme"}],
        review_due=business_date(long_ago) + timedelta(days=30),
        now=long_ago,
    )

    answer = api.get(MATRIX, headers=atlanta.headers).json()

    assert answer["en_retard"] is True
    assert answer["auteur"] == "operateur"


def test_a_client_sees_only_its_own_matrix(
    api: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    beta: Provisioned,
    notary: Registered,
    catalogue: dict[str, str],
) -> None:
    put_matrix(api, atlanta, matrix_body(insurer_rules(atlanta, notary)))
    set_catalogue(runtime, beta)

    assert_french_error(api.get(MATRIX, headers=beta.headers), 404, "matrice_absente")
    assert_french_error(
        api.get(f"{MATRIX}/versions/1", headers=beta.headers),
        404,
        "version_matrice_inconnue",
    )
    assert api.get(f"{MATRIX}/versions", headers=beta.headers).json() == {
        "versions": []
    }
    # Nor can it name Atlanta's people or system in its own matrix.
    theirs = put_matrix(
        api,
        beta,
        matrix_body(
            [
                {
                    "type_acte": "attestation",
                    "mode": "systeme",
                    "code_09": atlanta.code_09,
                }
            ]
        ),
    )
    assert_french_error(theirs, 422, "matrice_invalide")
    mine = put_matrix(
        api, beta, matrix_body([{"type_acte": "attestation", "mode": "systeme"}])
    )
    assert mine.status_code == 201 and mine.json()["version"] == 1
    assert api.get(MATRIX, headers=atlanta.headers).json()["version"] == 1
    assert len(api.get(MATRIX, headers=atlanta.headers).json()["regles"]) == 4


def test_the_openapi_description_documents_the_matrix(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()

    put = spec["paths"][MATRIX]["put"]
    schema = put["requestBody"]["content"]["application/json"]["schema"]
    assert put["summary"] == "Publier une nouvelle version de la matrice d'autorité"
    assert "$defs" not in schema
    assert schema["properties"]["regles"]["items"]["properties"]["mode"]["enum"] == [
        "systeme",
        "deleguee",
        "humaine",
    ]
    assert spec["paths"][f"{MATRIX}/versions/{{n}}"]["get"]["summary"]
