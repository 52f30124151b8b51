"""Each client's required level, refusals counted and logged, and the rate
limit on repeated failures from one address."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.ops.metrics import AUTH_REFUSALS
from sceau.runtime import Runtime
from tests.auth.conftest import new_hmac_secret, signed_headers, with_level
from tests.conftest import Provisioned

LOOKUP = "/api/v1/sceau/b2b/signatures/SIG-20260101-ABCDEF"


def refusals(client_id: str, reason: str) -> float:
    return AUTH_REFUSALS.labels(client_id, reason)._value.get()


def test_level_a_client_needs_only_its_key(
    api: TestClient, atlanta: Provisioned
) -> None:
    assert api.get(LOOKUP, headers=atlanta.headers).status_code == 404


def test_level_c_client_without_certificate_is_refused(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    with_level(runtime, atlanta, "C", allowlist=["127.0.0.1"])

    response = api.get(LOOKUP, headers=atlanta.headers)

    assert response.status_code == 403
    assert response.json()["erreur"]["code"] == "certificat_client_requis"


def test_forged_front_headers_sent_to_the_application_are_ignored(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    """The TestClient connects over TCP: what it claims the front verified
    counts for nothing."""
    with_level(runtime, atlanta, "C", allowlist=["0.0.0.0/0"])
    forged = {
        "X-Pixel-Front-Peer": "127.0.0.1",
        "X-Pixel-Front-Verify": "SUCCESS",
        "X-Pixel-Front-Cert": "MIIB",
    }

    response = api.get(LOOKUP, headers={**atlanta.headers, **forged})

    assert response.json()["erreur"]["code"] == "certificat_client_requis"


def test_raising_the_level_takes_effect_on_the_next_request(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    before = api.get(LOOKUP, headers=atlanta.headers)
    with_level(runtime, atlanta, "B")
    after = api.get(LOOKUP, headers=atlanta.headers)

    assert before.status_code == 404
    assert after.status_code == 401
    assert after.json()["erreur"]["code"] == "signature_hmac_manquante"


def test_refusals_are_counted_per_client_and_reason(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    with_level(runtime, atlanta, "B")
    before = refusals(atlanta.client_id, "signature_hmac_manquante")

    api.get(LOOKUP, headers=atlanta.headers)
    api.get(LOOKUP, headers=atlanta.headers)
    metrics = api.get("/metrics").text

    assert refusals(atlanta.client_id, "signature_hmac_manquante") == before + 2
    assert "sceau_auth_refusals_total" in metrics
    assert f'client_id="{atlanta.client_id}"' in metrics


def test_unknown_key_is_counted_without_a_client(api: TestClient) -> None:
    before = refusals("inconnu", "cle_api_invalide")

    api.get(LOOKUP, headers={"X-Identity-API-Key": "psk_000000000000_nope"})

    assert refusals("inconnu", "cle_api_invalide") == before + 1


def test_refusal_logs_carry_no_secret(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = new_hmac_secret(runtime, atlanta)
    with_level(runtime, atlanta, "B")
    caplog.set_level(logging.DEBUG)

    api.get(
        LOOKUP,
        headers=signed_headers(atlanta, secret + "x", method="GET", path=LOOKUP),
    )

    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__}" for record in caplog.records
    )
    assert "auth.refused" in logged
    assert "signature_hmac_invalide" in logged
    assert atlanta.api_key not in logged
    assert secret not in logged


def test_repeated_failures_from_one_address_are_slowed_down(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    settings = runtime.settings.model_copy(update={"auth_failure_limit": 3})
    limited = Runtime(settings)
    wrong = {"X-Identity-API-Key": "psk_000000000000_nope"}
    try:
        with TestClient(create_app(settings, limited)) as api:
            failures = [api.get(LOOKUP, headers=wrong).status_code for _ in range(3)]
            throttled = api.get(LOOKUP, headers=wrong)
            even_right = api.get(LOOKUP, headers=atlanta.headers)
    finally:
        limited.close()

    assert failures == [401, 401, 401]
    assert throttled.status_code == 429
    assert throttled.json()["erreur"]["code"] == "trop_d_echecs_authentification"
    assert int(throttled.headers["Retry-After"]) > 0
    # The address is slowed down whatever it sends, until the window passes.
    assert even_right.status_code == 429


def test_rate_limit_holds_across_processes(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    settings = runtime.settings.model_copy(update={"auth_failure_limit": 2})
    first, second = Runtime(settings), Runtime(settings)
    wrong = {"X-Identity-API-Key": "psk_000000000000_nope"}
    try:
        with (
            TestClient(create_app(settings, first)) as one,
            TestClient(create_app(settings, second)) as other,
        ):
            one.get(LOOKUP, headers=wrong)
            other.get(LOOKUP, headers=wrong)
            throttled = one.get(LOOKUP, headers=atlanta.headers)
    finally:
        first.close()
        second.close()

    assert throttled.status_code == 429


def test_purge_forgets_old_failures_and_nonces(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select, update

    from sceau.auth.models import AuthFailure, HmacNonce
    from sceau.db import utcnow

    secret = new_hmac_secret(runtime, atlanta)
    api.get(LOOKUP, headers=signed_headers(atlanta, secret, method="GET", path=LOOKUP))
    api.get(LOOKUP, headers={"X-Identity-API-Key": "psk_000000000000_nope"})
    long_ago = utcnow() - timedelta(hours=1)
    with runtime.db.transaction() as session:
        session.execute(update(AuthFailure).values(at=long_ago))
        session.execute(update(HmacNonce).values(expires_at=long_ago))

    removed = runtime.authenticator.purge()

    with runtime.db.sessions() as session:
        left = session.scalar(select(func.count()).select_from(AuthFailure))
        nonces = session.scalar(select(func.count()).select_from(HmacNonce))
    assert removed == 2
    assert left == 0 and nonces == 0
