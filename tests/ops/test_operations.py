"""Health, metrics, logs and the published API description."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from fastapi.testclient import TestClient

from sceau.ops.logs import JsonFormatter
from sceau.runtime import Runtime
from tests.conftest import Provisioned, sign_body


def test_healthz_reports_database_and_keys(api: TestClient) -> None:
    response = api.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"statut": "ok", "base_de_donnees": "ok", "cles": "ok"}


def test_healthz_reports_a_database_that_is_gone(
    api: TestClient, runtime: Runtime
) -> None:
    broken = Runtime(
        runtime.settings.model_copy(
            update={"database_url": "postgresql+psycopg://127.0.0.1:1/nulle_part"}
        )
    )
    broken.__dict__["pki"] = runtime.pki  # the keys are fine; only storage is gone
    api.app.state.runtime = broken  # type: ignore[attr-defined]

    response = api.get("/healthz")
    api.app.state.runtime = runtime  # type: ignore[attr-defined]
    broken.close()

    assert response.status_code == 503
    assert response.json()["base_de_donnees"] == "indisponible"
    assert response.json()["cles"] == "ok"


def test_metrics_count_signatures_by_level_and_outcome(
    api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    api.post(
        "/api/v1/sceau/b2b/signer",
        headers=atlanta.headers,
        json=sign_body(atlanta, pdf, niveau="B-T"),
    )
    api.post(
        "/api/v1/sceau/b2b/signer",
        headers=atlanta.headers,
        json=sign_body(atlanta, b"pas un pdf", niveau="B-T"),
    )

    text = api.get("/metrics").text

    assert 'sceau_signatures_total{level="B-T",outcome="signe"}' in text
    assert 'sceau_signatures_total{level="B-T",outcome="pdf_invalide"}' in text
    assert 'route="/api/v1/sceau/b2b/signer"' in text
    assert "sceau_http_request_duration_seconds_bucket" in text


def test_logs_carry_the_request_id_and_no_secret(
    api: TestClient, atlanta: Provisioned, pdf: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = sign_body(atlanta, pdf)

    response = api.post(
        "/api/v1/sceau/b2b/signer",
        headers={**atlanta.headers, "X-Request-Id": "integrateur-42-abcdef"},
        json=body,
    )

    assert response.headers["x-request-id"] == "integrateur-42-abcdef"
    lines = [JsonFormatter().format(record) for record in caplog.records]
    request_lines = [json.loads(line) for line in lines if "integrateur-42" in line]
    assert any(entry["event"] == "http.request" for entry in request_lines)
    assert any(entry["event"] == "signature.signed" for entry in request_lines)
    everything = "\n".join(lines)
    assert atlanta.api_key not in everything
    assert str(body["pdf_b64"])[:64] not in everything
    signed = response.json()["pdf_signe_b64"]
    assert signed[:64] not in everything
    assert "testclient" not in everything  # no raw client address


def test_json_formatter_masks_secret_fields() -> None:
    record = logging.LogRecord("sceau", logging.INFO, __file__, 1, "evt", (), None)
    record.api_key = "psk_secret"
    record.password = "hunter2"

    entry = json.loads(JsonFormatter().format(record))

    assert entry["api_key"] == "[masqué]"
    assert entry["password"] == "[masqué]"


def test_openapi_carries_the_sheets_example(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()

    operation = spec["paths"]["/api/v1/sceau/b2b/signer"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]
    assert example["fiche"]["value"]["code_09"] == "09S-ATLANTASYS-X"
    responses = operation["responses"]
    assert {"200", "400", "401", "403", "409", "413", "422", "503"} <= set(responses)
    assert any(p["name"] == "X-Identity-API-Key" for p in operation["parameters"])


def test_docs_page_is_served_without_any_cdn(api: TestClient) -> None:
    page = api.get("/docs")

    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    script = page.text.split('src="')[1].split('"')[0]
    assert api.get(script).status_code == 200


def test_unknown_route_and_method_answer_in_the_error_shape(api: TestClient) -> None:
    missing = api.get("/api/v1/sceau/b2b/inexistant")
    wrong_method = api.get("/api/v1/sceau/b2b/signer")

    assert missing.status_code == 404
    assert missing.json()["erreur"]["code"] == "ressource_introuvable"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["erreur"]["code"] == "methode_non_autorisee"


def test_signing_duration_is_reported_in_the_answer(
    api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    response = api.post(
        "/api/v1/sceau/b2b/signer",
        headers=atlanta.headers,
        json=sign_body(atlanta, pdf),
    )

    assert 0 < response.json()["duree_traitement_ms"] < 60_000
    assert base64.b64decode(response.json()["pdf_signe_b64"]).startswith(b"%PDF-")


def test_wrong_method_names_the_allowed_ones(api: TestClient) -> None:
    response = api.get("/api/v1/sceau/b2b/signer")

    assert response.headers["allow"] == "POST"


def test_trailing_slash_is_not_redirected(api: TestClient) -> None:
    response = api.post("/api/v1/sceau/b2b/signer/", json={}, follow_redirects=False)

    assert response.status_code == 404
    assert response.json()["erreur"]["code"] == "ressource_introuvable"
