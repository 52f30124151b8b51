"""The OpenAPI description's shared parts: what every route of a kind can
answer is documented, in the error shape the service really sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.settings import Settings


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    app = create_app(Settings(data_dir=Path("unused")), delivery_worker=False)
    described: dict[str, Any] = app.openapi()
    return described


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_error_response_carries_the_error_body(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Erreur"}, (
                    method,
                    path,
                    status,
                )


def test_no_operation_promises_the_frameworks_validation_body(
    spec: dict[str, Any],
) -> None:
    assert "HTTPValidationError" not in str(spec)
    assert "#/$defs/" not in str(spec)


def test_authenticated_operations_document_every_refusal(
    spec: dict[str, Any],
) -> None:
    authenticated = [
        (method, path, operation)
        for method, path, operation in operations(spec)
        if any(
            p["name"] == "X-Identity-API-Key" for p in operation.get("parameters", [])
        )
    ]

    assert len(authenticated) > 30
    for method, path, operation in authenticated:
        assert {"401", "403", "429", "503"} <= set(operation["responses"]), (
            method,
            path,
        )
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_json_bodies_document_malformed_json_and_wrong_content_type(
    spec: dict[str, Any],
) -> None:
    signer = spec["paths"]["/api/v1/sceau/b2b/signer"]["post"]

    assert {"400", "413", "415", "422", "503"} <= set(signer["responses"])
    key = next(p for p in signer["parameters"] if p["name"] == "Idempotency-Key")
    assert key["schema"]["pattern"] == "^[!-~]{1,255}$"
    assert "anyOf" not in key["schema"]


def test_a_wrong_method_names_every_method_of_its_path(api: TestClient) -> None:
    """A path served by two routes (a GET and a POST declared apart): the
    405's Allow names both, not only the first route found."""
    acts = api.delete("/api/v1/sceau/b2b/actes")
    endpoint = api.put("/api/v1/sceau/b2b/webhooks/whe_inconnu")

    assert acts.status_code == 405
    assert acts.json()["erreur"]["code"] == "methode_non_autorisee"
    assert set(acts.headers["allow"].split(", ")) == {"GET", "POST"}
    assert set(endpoint.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE"}
