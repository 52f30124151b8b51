"""A client's catalogue of act kinds: replaced whole, checked entry by entry,
never losing a kind the matrix in force names; over HTTP, one client's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sceau.audit.actors import Actor
from sceau.authority import service as authority
from sceau.catalogue.errors import InvalidCatalogue
from sceau.catalogue.models import ActType
from sceau.catalogue.service import labels, parse_entries, replace_catalogue
from sceau.errors import SceauError
from sceau.runtime import Runtime
from tests.acts.conftest import beta
from tests.conftest import Provisioned
from tests.modes.test_signing_errors import assert_french_error

__all__ = ["beta"]

TYPES = "/api/v1/sceau/b2b/types-acte"
START = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
KINDS = {
    "police_assurance": "Polices d'assurance",
    "attestation": "Attestations de garantie",
}


def replace(
    runtime: Runtime,
    client: Provisioned,
    entries: dict[str, Any],
    now: datetime = START,
) -> dict[str, str]:
    with runtime.db.transaction() as session:
        return replace_catalogue(session, client.client_id, entries, now)


def refused(runtime: Runtime, client: Provisioned, entries: dict[str, Any]) -> str:
    with pytest.raises(InvalidCatalogue) as caught:
        replace(runtime, client, entries)
    assert (caught.value.status, caught.value.code) == (422, "catalogue_invalide")
    return caught.value.message


def publish_attestations_only(runtime: Runtime, client: Provisioned) -> None:
    with runtime.db.transaction() as session:
        authority.publish(
            session,
            client.client_id,
            rules=[{"type_acte": "attestation", "mode": "systeme"}],
            review_due=START.date() + timedelta(days=300),
            overdue_policy="avertir",
            author="operateur",
            now=START,
            by=Actor.operator(),
        )


# -- the service ----------------------------------------------------------------


def test_a_replacement_keeps_kinds_kept_and_renames_labels(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    replace(runtime, atlanta, KINDS)
    later = START + timedelta(days=3)

    after = replace(
        runtime,
        atlanta,
        {"attestation": "  Attestations   d'assurance ", "quittance": "Quittances"},
        later,
    )

    assert after == {
        "attestation": "Attestations d'assurance",
        "quittance": "Quittances",
    }
    with runtime.db.sessions() as session:
        created = dict(
            session.execute(
                select(ActType.code, ActType.created_at).where(
                    ActType.client_id == atlanta.client_id
                )
            ).all()
        )
    assert created == {"attestation": START, "quittance": later}


@pytest.mark.parametrize(
    "code",
    ["Police", "_police", "police assurance", "pôlice", "police\n", "a" * 65, ""],
)
def test_malformed_codes_are_refused(
    runtime: Runtime, atlanta: Provisioned, code: str
) -> None:
    message = refused(runtime, atlanta, {code: "Polices"})

    assert message.startswith(f"Code de type d'acte invalide : « {code} ».")


def test_codes_of_up_to_sixty_four_characters_are_accepted(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    longest = "p" + "_.-9" * 15 + "abc"

    after = replace(runtime, atlanta, {longest: "Long", "0": "Zéro"})

    assert len(longest) == 64 and set(after) == {longest, "0"}


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("", "compte de 1 à 200 caractères"),
        ("   ", "compte de 1 à 200 caractères"),
        ("x" * 201, "compte de 1 à 200 caractères"),
        ("Polices\x00", "contient un caractère de contrôle"),
        ("Polices\x07", "contient un caractère de contrôle"),
    ],
)
def test_bad_labels_are_refused(
    runtime: Runtime, atlanta: Provisioned, label: str, expected: str
) -> None:
    message = refused(runtime, atlanta, {"police": label})

    assert message.startswith("Le libellé du type d'acte « police »")
    assert expected in message


def test_a_catalogue_holds_two_hundred_kinds_at_most(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    many = {f"type_{n:03d}": f"Type {n}" for n in range(201)}

    message = refused(runtime, atlanta, many)
    del many["type_200"]
    accepted = replace(runtime, atlanta, many)

    assert message == "Un catalogue compte au plus 200 types d'actes (201 reçus)."
    assert len(accepted) == 200


def test_a_refused_replacement_changes_nothing(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    replace(runtime, atlanta, KINDS)

    refused(runtime, atlanta, {"quittance": "Quittances", "Mauvais": "x"})

    with runtime.db.sessions() as session:
        assert labels(session, atlanta.client_id) == dict(sorted(KINDS.items()))


def test_a_kind_the_matrix_names_cannot_be_removed(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    replace(runtime, atlanta, KINDS)
    publish_attestations_only(runtime, atlanta)

    with pytest.raises(SceauError) as caught:
        replace(runtime, atlanta, {"police_assurance": "Polices"})
    kept = replace(runtime, atlanta, {"attestation": "Attestations"})

    assert (caught.value.status, caught.value.code) == (409, "type_acte_utilise")
    assert caught.value.message == (
        "Le type d'acte « attestation » est utilisé par la règle R1 de la matrice "
        "d'autorité en vigueur (version 1) : publiez d'abord une matrice qui ne "
        "le nomme plus, puis retirez-le du catalogue."
    )
    assert kept == {"attestation": "Attestations"}


def test_entries_come_as_a_list_of_code_and_label(runtime: Runtime) -> None:
    entries = parse_entries(
        [{"code": "a", "libelle": "A"}, {"code": "b", "libelle": "B"}]
    )

    assert entries == {"a": "A", "b": "B"}
    for items, expected in (
        ({"a": "A"}, "types_acte doit être une liste"),
        ([{"code": "a"}], "Type d'acte n° 1 : un objet"),
        ([{"code": "a", "libelle": "A", "x": 1}], "Type d'acte n° 1 : un objet"),
        ([{"code": 1, "libelle": "A"}], "Type d'acte n° 1 : un objet"),
        (
            [{"code": "a", "libelle": "A"}, {"code": "a", "libelle": "B"}],
            "Le code « a » figure deux fois",
        ),
    ):
        with pytest.raises(InvalidCatalogue) as caught:
            parse_entries(items)
        assert caught.value.message.startswith(expected)


# -- over HTTP -----------------------------------------------------------------


def put_types(api: TestClient, client: Provisioned, items: list[dict[str, Any]]) -> Any:
    return api.put(TYPES, json={"types_acte": items}, headers=client.headers)


def test_the_catalogue_is_empty_until_set_then_reads_by_code(
    api: TestClient, atlanta: Provisioned
) -> None:
    empty = api.get(TYPES, headers=atlanta.headers)
    items = [{"code": c, "libelle": label} for c, label in KINDS.items()]

    replaced = put_types(api, atlanta, items)

    assert empty.status_code == 200 and empty.json() == {"types_acte": []}
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == {"types_acte": sorted(items, key=lambda i: i["code"])}
    assert api.get(TYPES, headers=atlanta.headers).json() == replaced.json()


def test_an_invalid_catalogue_is_refused_in_french(
    api: TestClient, atlanta: Provisioned
) -> None:
    bad_code = put_types(api, atlanta, [{"code": "Polices", "libelle": "Polices"}])
    twice = put_types(
        api,
        atlanta,
        [{"code": "a", "libelle": "A"}, {"code": "a", "libelle": "B"}],
    )
    not_a_list = api.put(TYPES, json={"types_acte": "a"}, headers=atlanta.headers)
    nul = put_types(api, atlanta, [{"code": "a", "libelle": "A\u0000"}])

    for response in (bad_code, twice, not_a_list, nul):
        assert_french_error(response, 422, "catalogue_invalide")
    assert api.get(TYPES, headers=atlanta.headers).json() == {"types_acte": []}


def test_removing_a_kind_in_use_is_a_conflict(
    api: TestClient, runtime: Runtime, atlanta: Provisioned
) -> None:
    replace(runtime, atlanta, KINDS)
    publish_attestations_only(runtime, atlanta)

    response = put_types(api, atlanta, [])

    assert_french_error(response, 409, "type_acte_utilise")


def test_a_client_sees_and_changes_only_its_own_catalogue(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, beta: Provisioned
) -> None:
    replace(runtime, atlanta, KINDS)

    theirs = api.get(TYPES, headers=beta.headers)
    put_types(api, beta, [{"code": "bail", "libelle": "Baux d'habitation"}])

    assert theirs.json() == {"types_acte": []}
    assert [
        i["code"] for i in api.get(TYPES, headers=atlanta.headers).json()["types_acte"]
    ] == [
        "attestation",
        "police_assurance",
    ]
    assert api.get(TYPES, headers=beta.headers).json() == {
        "types_acte": [{"code": "bail", "libelle": "Baux d'habitation"}]
    }


def test_the_catalogue_needs_an_api_key(api: TestClient) -> None:
    assert_french_error(api.get(TYPES), 401, "cle_api_manquante")
