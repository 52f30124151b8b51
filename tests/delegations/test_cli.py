"""``sceau delegation …`` as an operator types it; and the catalogue keeps
the kinds a delegation names."""

from __future__ import annotations

from click.testing import CliRunner
from fastapi.testclient import TestClient

from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.delegations.conftest import draft, signed_delegation
from tests.people.conftest import Registered
from tests.test_cli import cli, run, run_json

__all__ = ["cli"]

TYPES = "/api/v1/sceau/b2b/types-acte"


def test_the_operator_lists_and_reads_a_clients_delegations(
    cli: CliRunner,
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    director: Registered,
) -> None:
    signed = signed_delegation(runtime, api, atlanta, director)

    listed = run_json(cli, "delegation", "list", "--client", atlanta.client_id)
    shown = run(cli, "delegation", "show", "--client", atlanta.client_id, signed.ref)
    unknown = run(
        cli, "delegation", "show", "--client", atlanta.client_id, "DLG-20260101-000000"
    )

    assert isinstance(listed, list)
    assert [(item["ref_delegation"], item["statut"]) for item in listed] == [
        (signed.ref, "active")
    ]
    assert shown.exit_code == 0, shown.output
    assert f"{signed.ref} (active)" in shown.output
    assert "Heures : de 08:00 (incluse) à 18:00 (exclue)" in shown.output
    assert unknown.exit_code != 0
    assert "Aucune délégation de ce client" in unknown.output


def test_a_kind_named_by_a_delegation_stays_in_the_catalogue(
    api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    ref = draft(api, atlanta, director.code_09).json()["ref_delegation"]
    without_policies = {"types_acte": [{"code": "attestation", "libelle": "A"}]}

    refused = api.put(TYPES, json=without_policies, headers=atlanta.headers)
    api.post(f"/api/v1/sceau/b2b/delegations/{ref}/annulation", headers=atlanta.headers)
    allowed = api.put(TYPES, json=without_policies, headers=atlanta.headers)

    assert refused.status_code == 409
    assert refused.json()["erreur"]["code"] == "type_acte_utilise"
    assert ref in refused.json()["erreur"]["message"]
    assert allowed.status_code == 200, allowed.text


def test_a_kind_named_only_by_an_ended_delegation_may_leave_the_catalogue(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    from datetime import UTC, datetime

    from tests.delegations.conftest import at

    signed_delegation(runtime, api, atlanta, director, valide_au="2026-12-31")
    without_policies = {"types_acte": [{"code": "attestation", "libelle": "A"}]}

    at(api, datetime(2026, 12, 31, 12, tzinfo=UTC))
    in_force = api.put(TYPES, json=without_policies, headers=atlanta.headers)
    at(api, datetime(2027, 1, 2, 12, tzinfo=UTC))
    ended = api.put(TYPES, json=without_policies, headers=atlanta.headers)

    assert in_force.status_code == 409
    assert ended.status_code == 200, ended.text
