"""Level B: every request signed with HMAC-SHA-256 (``X-Pixel-Signature``)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.auth.hmac_scheme import HEADER
from sceau.runtime import Runtime
from tests.auth.conftest import json_bytes, new_hmac_secret, signed_headers, with_level
from tests.conftest import Provisioned, provision, sign_body

LOOKUP = "/api/v1/sceau/b2b/signatures/SIG-20260101-ABCDEF"
SIGN = "/api/v1/sceau/b2b/signer"


@pytest.fixture
def level_b(runtime: Runtime, atlanta: Provisioned) -> tuple[Provisioned, str]:
    secret = new_hmac_secret(runtime, atlanta)
    with_level(runtime, atlanta, "B")
    return atlanta, secret


def error_code(response: object) -> str:
    code: str = response.json()["erreur"]["code"]  # type: ignore[attr-defined]
    return code


def test_signed_request_signs_a_document(
    api: TestClient, level_b: tuple[Provisioned, str], pdf: bytes
) -> None:
    client, secret = level_b
    body = json_bytes(sign_body(client, pdf))

    response = api.post(
        SIGN,
        content=body,
        headers={
            **signed_headers(client, secret, method="POST", path=SIGN, body=body),
            "Content-Type": "application/json",
        },
    )

    assert response.status_code == 200, response.text
    assert response.json()["statut"] == "signe"


def test_signed_lookup_reaches_the_route(
    api: TestClient, level_b: tuple[Provisioned, str]
) -> None:
    client, secret = level_b

    response = api.get(
        LOOKUP, headers=signed_headers(client, secret, method="GET", path=LOOKUP)
    )

    # Authenticated: the route itself answers that no such signature exists.
    assert response.status_code == 404
    assert error_code(response) == "signature_inconnue"


def test_missing_signature_is_refused(
    api: TestClient, level_b: tuple[Provisioned, str]
) -> None:
    client, _ = level_b

    response = api.get(LOOKUP, headers=client.headers)

    assert response.status_code == 401
    assert error_code(response) == "signature_hmac_manquante"
    assert "X-Pixel-Signature" in response.json()["erreur"]["message"]


@pytest.mark.parametrize(
    "header",
    [
        "",
        "v2;t=1;n=abcdefghijklmnop;k=hmk_000000000000;s=" + "0" * 64,
        "v1;t=1;n=short;k=hmk_000000000000;s=" + "0" * 64,
        "v1;t=1;n=abcdefghijklmnop;k=key_000000000000;s=" + "0" * 64,
        "v1;t=1;n=abcdefghijklmnop;k=hmk_000000000000;s=XYZ",
        "v1;t=1;t=2;n=abcdefghijklmnop;k=hmk_000000000000;s=" + "0" * 64,
        "v1;n=abcdefghijklmnop;k=hmk_000000000000;s=" + "0" * 64,
        "v1;t=-5;n=abcdefghijklmnop;k=hmk_000000000000;s=" + "0" * 64,
        "v1;" + "x" * 500,
    ],
)
def test_malformed_signature_is_refused(
    api: TestClient, level_b: tuple[Provisioned, str], header: str
) -> None:
    client, _ = level_b

    response = api.get(LOOKUP, headers={**client.headers, HEADER: header})

    assert response.status_code == 401
    assert error_code(response) == "signature_hmac_malformee"


# Well past the 300-second window: a loaded machine may take a second or more
# between signing the request and checking it.
@pytest.mark.parametrize("offset", [-360, 360, -86400])
def test_stale_or_future_timestamp_is_refused(
    api: TestClient, level_b: tuple[Provisioned, str], offset: int
) -> None:
    client, secret = level_b
    headers = signed_headers(
        client, secret, method="GET", path=LOOKUP, timestamp=int(time.time()) + offset
    )

    response = api.get(LOOKUP, headers=headers)

    assert response.status_code == 401
    assert error_code(response) == "signature_hmac_hors_delai"


def test_timestamp_inside_window_is_accepted(
    api: TestClient, level_b: tuple[Provisioned, str]
) -> None:
    client, secret = level_b
    headers = signed_headers(
        client, secret, method="GET", path=LOOKUP, timestamp=int(time.time()) - 290
    )

    assert api.get(LOOKUP, headers=headers).status_code == 404


def test_wrong_secret_is_refused(
    api: TestClient, level_b: tuple[Provisioned, str]
) -> None:
    client, secret = level_b
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")

    response = api.get(
        LOOKUP, headers=signed_headers(client, forged, method="GET", path=LOOKUP)
    )

    assert response.status_code == 401
    assert error_code(response) == "signature_hmac_invalide"


def test_replayed_nonce_is_refused(
    api: TestClient, level_b: tuple[Provisioned, str]
) -> None:
    client, secret = level_b
    headers = signed_headers(client, secret, method="GET", path=LOOKUP)

    first = api.get(LOOKUP, headers=headers)
    replay = api.get(LOOKUP, headers=headers)

    assert first.status_code == 404
    assert replay.status_code == 401
    assert error_code(replay) == "nonce_deja_utilise"


def test_replay_is_refused_by_another_process(
    runtime: Runtime, api: TestClient, level_b: tuple[Provisioned, str]
) -> None:
    """A second runtime on the same database stands for another process: the
    nonce is remembered in the database, not in memory."""
    client, secret = level_b
    headers = signed_headers(client, secret, method="GET", path=LOOKUP)
    other = Runtime(runtime.settings)
    try:
        with TestClient(create_app(runtime.settings, other)) as second:
            first = api.get(LOOKUP, headers=headers)
            replay = second.get(LOOKUP, headers=headers)
    finally:
        other.close()

    assert first.status_code == 404
    assert error_code(replay) == "nonce_deja_utilise"


def test_refused_signature_does_not_burn_the_nonce(
    api: TestClient, level_b: tuple[Provisioned, str]
) -> None:
    """The nonce is recorded only once the MAC is right: a forger cannot
    block a legitimate request by sending its nonce first."""
    client, secret = level_b
    good = signed_headers(client, secret, method="GET", path=LOOKUP, nonce="n" * 20)
    bad = signed_headers(
        client, secret + "x", method="GET", path=LOOKUP, nonce="n" * 20
    )

    assert error_code(api.get(LOOKUP, headers=bad)) == "signature_hmac_invalide"
    assert api.get(LOOKUP, headers=good).status_code == 404


@pytest.mark.parametrize(
    ("part", "signed", "sent"),
    [
        ("body", {"body": b'{"motif": "A"}'}, {"body": b'{"motif": "B"}'}),
        (
            "path",
            {"method": "GET", "path": LOOKUP, "body": b""},
            {"method": "GET", "path": LOOKUP[:-1] + "X", "body": b""},
        ),
        ("query", {"query": "a=1"}, {"query": "a=2"}),
        ("method", {"method": "PUT"}, {"method": "POST"}),
        ("host", {"host": "api.cipixel.com"}, {"host": "testserver"}),
    ],
)
def test_tampering_with_a_covered_part_fails(
    api: TestClient,
    level_b: tuple[Provisioned, str],
    part: str,
    signed: dict[str, object],
    sent: dict[str, object],
) -> None:
    client, secret = level_b
    request: dict[str, object] = {
        "method": "POST",
        "path": SIGN,
        "query": "",
        "body": b'{"motif": "A"}',
        "host": "testserver",
    }
    headers = signed_headers(client, secret, **{**request, **signed})  # type: ignore[arg-type]
    actual = {**request, **sent}
    url = str(actual["path"]) + (f"?{actual['query']}" if actual["query"] else "")

    response = api.request(
        str(actual["method"]), url, content=actual["body"], headers=headers
    )

    assert response.status_code == 401, part
    assert error_code(response) == "signature_hmac_invalide"


def test_every_part_signed_alike_is_accepted(
    api: TestClient, level_b: tuple[Provisioned, str]
) -> None:
    """The control for the tampering cases: the same request, untouched."""
    client, secret = level_b
    headers = signed_headers(client, secret, method="GET", path=LOOKUP, query="a=1")

    assert api.get(LOOKUP + "?a=1", headers=headers).status_code == 404


def test_query_order_does_not_matter(
    api: TestClient, level_b: tuple[Provisioned, str]
) -> None:
    client, secret = level_b
    headers = signed_headers(client, secret, method="GET", path=LOOKUP, query="b=2&a=1")

    response = api.get(LOOKUP + "?a=1&b=2", headers=headers)

    assert response.status_code == 404


def test_another_clients_hmac_key_is_refused(
    runtime: Runtime, api: TestClient, level_b: tuple[Provisioned, str]
) -> None:
    client, _ = level_b
    other = provision(runtime, name="Autre", label="Autre – système", body="AUTRESYS")
    others_secret = new_hmac_secret(runtime, other)

    response = api.get(
        LOOKUP, headers=signed_headers(client, others_secret, method="GET", path=LOOKUP)
    )

    assert response.status_code == 401
    assert error_code(response) == "cle_hmac_invalide"


def test_level_a_client_may_sign_and_is_then_checked(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    secret = new_hmac_secret(runtime, atlanta)

    bad = signed_headers(atlanta, secret + "x", method="GET", path=LOOKUP)

    assert api.get(LOOKUP, headers=atlanta.headers).status_code == 404
    assert error_code(api.get(LOOKUP, headers=bad)) == "signature_hmac_invalide"


def test_wrong_api_key_is_refused_before_the_signature(
    api: TestClient, level_b: tuple[Provisioned, str]
) -> None:
    client, secret = level_b
    headers = signed_headers(client, secret, method="GET", path=LOOKUP)
    headers["X-Identity-API-Key"] = "psk_000000000000_nope"

    response = api.get(LOOKUP, headers=headers)

    assert error_code(response) == "cle_api_invalide"
