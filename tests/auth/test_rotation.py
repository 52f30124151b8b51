"""API keys and HMAC secrets rotate with an overlap, by the operator or by
the client itself."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from sceau.audit.actors import Actor
from sceau.clients.service import create_api_key, list_api_keys, list_hmac_secrets
from sceau.runtime import Runtime
from tests.auth.conftest import new_hmac_secret, signed_headers, with_level
from tests.conftest import Provisioned

LOOKUP = "/api/v1/sceau/b2b/signatures/SIG-20260101-ABCDEF"
KEYS = "/api/v1/sceau/b2b/cles"


def key_headers(secret: str) -> dict[str, str]:
    return {"X-Identity-API-Key": secret}


def rotate(runtime: Runtime, client: Provisioned, hours: float) -> str:
    with runtime.db.transaction() as session:
        return create_api_key(
            session, client.client_id, timedelta(hours=hours), by=Actor.operator()
        ).secret


def test_new_key_keeps_the_old_one_valid_during_the_grace(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    new = rotate(runtime, atlanta, 24)

    assert api.get(LOOKUP, headers=atlanta.headers).status_code == 404
    assert api.get(LOOKUP, headers=key_headers(new)).status_code == 404
    with runtime.db.sessions() as session:
        old = next(k for k in list_api_keys(session) if k.id == atlanta.api_key_id)
    assert old.expires_at is not None
    assert timedelta(hours=23) < old.expires_at - old.created_at < timedelta(hours=25)


def test_zero_grace_ends_the_old_key_at_once(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    new = rotate(runtime, atlanta, 0)

    old = api.get(LOOKUP, headers=atlanta.headers)

    assert old.status_code == 401
    assert old.json()["erreur"]["code"] == "cle_api_invalide"
    assert api.get(LOOKUP, headers=key_headers(new)).status_code == 404


def test_at_most_two_keys_are_live(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    second = rotate(runtime, atlanta, 24)
    third = rotate(runtime, atlanta, 24)

    statuses = [
        api.get(LOOKUP, headers=key_headers(k)).status_code
        for k in (atlanta.api_key, second, third)
    ]

    assert statuses == [401, 404, 404]


def test_expired_overlap_refuses_the_old_key(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    from sqlalchemy import update

    from sceau.clients.models import ApiKey
    from sceau.db import utcnow

    rotate(runtime, atlanta, 24)
    with runtime.db.transaction() as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == atlanta.api_key_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    assert api.get(LOOKUP, headers=atlanta.headers).status_code == 401


def test_last_use_is_recorded(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    api.get(LOOKUP, headers=atlanta.headers)

    with runtime.db.sessions() as session:
        key = next(k for k in list_api_keys(session) if k.id == atlanta.api_key_id)
    assert key.last_used_at is not None


def test_client_rotates_its_own_api_key(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    response = api.post(
        f"{KEYS}/api", headers=atlanta.headers, json={"delai_grace_heures": 2}
    )

    assert response.status_code == 201, response.text
    issued = response.json()
    assert issued["type"] == "api" and issued["secret"].startswith("psk_")
    assert issued["precedent_valide_jusqu_au"] is not None
    assert api.get(LOOKUP, headers=key_headers(issued["secret"])).status_code == 404
    assert api.get(LOOKUP, headers=atlanta.headers).status_code == 404
    listed = api.get(KEYS, headers=key_headers(issued["secret"])).json()
    assert sorted(c["etat"] for c in listed) == ["active", "en_recouvrement"]
    assert all("secret" not in c for c in listed)


def test_client_rotates_its_hmac_secret_under_its_own_signature(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    old_secret = new_hmac_secret(runtime, atlanta)
    with_level(runtime, atlanta, "B")
    body = b'{"delai_grace_heures": 0}'

    response = api.post(
        f"{KEYS}/hmac",
        content=body,
        headers=signed_headers(
            atlanta, old_secret, method="POST", path=f"{KEYS}/hmac", body=body
        ),
    )
    new_secret = response.json()["secret"]
    with_old = api.get(
        LOOKUP, headers=signed_headers(atlanta, old_secret, method="GET", path=LOOKUP)
    )
    with_new = api.get(
        LOOKUP, headers=signed_headers(atlanta, new_secret, method="GET", path=LOOKUP)
    )

    assert response.status_code == 201
    assert new_secret.startswith("phs_")
    assert with_old.json()["erreur"]["code"] == "cle_hmac_invalide"
    assert with_new.status_code == 404
    with runtime.db.sessions() as session:
        assert len(list_hmac_secrets(session, atlanta.client_id)) == 2


def test_rotation_refuses_a_bad_grace(api: TestClient, atlanta: Provisioned) -> None:
    too_long = api.post(
        f"{KEYS}/api", headers=atlanta.headers, json={"delai_grace_heures": 9999}
    )
    not_json = api.post(f"{KEYS}/api", headers=atlanta.headers, content=b"{nope")
    unknown = api.post(f"{KEYS}/ssh", headers=atlanta.headers)

    assert too_long.status_code == 400
    assert too_long.json()["erreur"]["code"] == "parametre_invalide"
    assert not_json.json()["erreur"]["code"] == "json_invalide"
    assert unknown.status_code == 400
    assert unknown.json()["erreur"]["code"] == "parametre_invalide"
    assert api.get(LOOKUP, headers=atlanta.headers).status_code == 404


def test_hmac_secret_is_sealed_not_stored_in_clear(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    secret = new_hmac_secret(runtime, atlanta)

    with runtime.db.sessions() as session:
        stored = list_hmac_secrets(session, atlanta.client_id)[0].sealed_secret
    assert secret.encode() not in stored
    assert secret.split("_", 2)[2].encode() not in stored
