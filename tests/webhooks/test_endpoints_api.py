"""The client's own endpoints and deliveries, through the API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from sceau.events import types
from sceau.events.service import emit
from sceau.runtime import Runtime
from tests.conftest import Provisioned, provision
from tests.support.events import Receiver, Reply, drain, make_worker

BASE = "/api/v1/sceau/b2b"


def test_client_registers_lists_rotates_and_removes_its_endpoint(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    made = api.post(
        f"{BASE}/webhooks",
        json={"url": receiver.url(), "evenements": ["horodatage.confirme"]},
        headers=atlanta.headers,
    )
    assert made.status_code == 201, made.text
    endpoint = made.json()
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["evenements"] == ["horodatage.confirme"]

    listed = api.get(f"{BASE}/webhooks", headers=atlanta.headers).json()
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]

    rotated = api.post(
        f"{BASE}/webhooks/{endpoint['id']}/rotation", headers=atlanta.headers
    ).json()
    secret = api.get(
        f"{BASE}/webhooks/{endpoint['id']}/secret", headers=atlanta.headers
    ).json()
    assert secret["secret"] == rotated["secret"]
    assert secret["secret_precedent"] == endpoint["secret"]

    with runtime.db.transaction() as session:
        emit(session, client_id=atlanta.client_id, type=types.ACTE_CREE, data={})
        emit(
            session,
            client_id=atlanta.client_id,
            type=types.HORODATAGE_CONFIRME,
            data={"ref_horodatage": "HRD-MQNNT8VR"},
        )
    drain(make_worker(runtime))
    [got] = receiver.received  # acte.cree is not subscribed
    assert Webhook(rotated["secret"]).verify(got.body, got.headers)["type"] == (
        "horodatage.confirme"
    )

    gone = api.delete(f"{BASE}/webhooks/{endpoint['id']}", headers=atlanta.headers)
    assert gone.status_code == 204
    assert api.get(f"{BASE}/webhooks", headers=atlanta.headers).json() == []


def test_client_lists_its_deliveries_and_asks_for_a_redelivery(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    api.post(f"{BASE}/webhooks", json={"url": receiver.url()}, headers=atlanta.headers)
    with runtime.db.transaction() as session:
        emit(session, client_id=atlanta.client_id, type=types.ACTE_SIGNE, data={})
    receiver.replies = [Reply(500)]
    worker = make_worker(runtime)
    worker.run_once()

    [delivery] = api.get(f"{BASE}/livraisons", headers=atlanta.headers).json()
    assert delivery["etat"] == "en_attente"
    assert delivery["essais"][0]["statut_http"] == 500
    assert delivery["derniere_erreur"] == "réponse HTTP 500"
    again = api.post(
        f"{BASE}/livraisons/{delivery['id']}/relivraison", headers=atlanta.headers
    )
    assert again.status_code == 202

    other = provision(runtime, name="Banque Atlantique", body="BANQUESYS")
    hidden = api.get(f"{BASE}/livraisons/{delivery['id']}", headers=other.headers)
    assert hidden.status_code == 404
    assert hidden.json()["erreur"]["code"] == "livraison_inconnue"
    assert api.get(f"{BASE}/livraisons", headers=other.headers).json() == []


def test_bad_endpoint_requests_get_clear_french_errors(
    api: TestClient, atlanta: Provisioned
) -> None:
    cases = [
        ({"url": "ftp://atlanta.example.ci/x"}, 422, "callback_url_refusee"),
        ({"url": "https://user:pw@atlanta.example.ci/"}, 422, "callback_url_refusee"),
        (
            {"url": "https://atlanta.example.ci/", "evenements": ["facture.payee"]},
            422,
            "type_evenement_inconnu",
        ),
    ]
    for body, status, code in cases:
        response = api.post(f"{BASE}/webhooks", json=body, headers=atlanta.headers)
        assert response.status_code == status, response.text
        assert response.json()["erreur"]["code"] == code
    missing = api.get(f"{BASE}/webhooks/whe_inconnu", headers=atlanta.headers)
    assert missing.status_code == 404
    assert missing.json()["erreur"]["code"] == "webhook_inconnu"
    assert api.get(f"{BASE}/webhooks").status_code == 401
