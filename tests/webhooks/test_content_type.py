"""The webhook routes that read a JSON body refuse one not sent as JSON with
the documented 415, after the client's authentication, and write nothing."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.conftest import Provisioned

BASE = "/api/v1/sceau/b2b"


def test_a_body_not_sent_as_json_is_refused_with_a_415(
    api: TestClient, atlanta: Provisioned
) -> None:
    body = json.dumps({"url": "https://atlanta.example.ci/sceau/webhook"})
    as_text = {**atlanta.headers, "Content-Type": "text/plain"}

    created = api.post(f"{BASE}/webhooks", content=body, headers=as_text)
    anonymous = api.post(
        f"{BASE}/webhooks", content=body, headers={"Content-Type": "text/plain"}
    )
    changed = api.patch(
        f"{BASE}/webhooks/whe_inconnu", content='{"actif": true}', headers=as_text
    )

    for answer in (created, changed):
        assert answer.status_code == 415, answer.text
        assert answer.json()["erreur"]["code"] == "type_contenu_invalide"
    assert anonymous.status_code == 401
    assert api.get(f"{BASE}/webhooks", headers=atlanta.headers).json() == []


def test_the_description_documents_the_415_where_it_is_sent(
    api: TestClient,
) -> None:
    paths = api.get("/openapi.json").json()["paths"]

    assert "415" in paths[f"{BASE}/webhooks"]["post"]["responses"]
    assert "415" in paths[f"{BASE}/webhooks/{{endpoint_id}}"]["patch"]["responses"]
    # The key rotation reads its optional body whatever its content type.
    assert "415" not in paths[f"{BASE}/cles/{{kind}}"]["post"]["responses"]
    # Each webhook route documents what it can answer, no more.
    read = paths[f"{BASE}/webhooks/{{endpoint_id}}"]["get"]["responses"]
    assert {"409", "413", "422"}.isdisjoint(read)
