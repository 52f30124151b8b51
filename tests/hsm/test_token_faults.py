"""The token out of reach, for real: SoftHSM's token directory taken away
while the service runs. The client gets ``503 hsm_indisponible``, nothing is
stored or billed, and signing comes back by itself once the token does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pkcs11 import Attribute, ObjectClass
from sqlalchemy import func, select

from sceau.anchoring.models import AnchorRecord
from sceau.billing.models import UsageRecord
from sceau.clients.models import Client
from sceau.hsm.errors import HsmUnavailable
from sceau.hsm.pool import PooledSession, SessionPool
from sceau.idempotency.models import IdempotencyKey
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord, SignedDocument
from tests.conftest import Provisioned, provision, sign_body
from tests.hsm.conftest import SoftHsm
from tests.support.pdfs import one_page_pdf
from tests.support.validators import openssl

# python-pkcs11 finishes a key search on a session closed under it from a
# destructor, which can only complain: the pool has already replaced it.
closes_sessions = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning"
)

SIGN = "/api/v1/sceau/b2b/signer"
WRITTEN = (SignatureRecord, SignedDocument, AnchorRecord, UsageRecord, IdempotencyKey)
# Long enough for a loaded machine; the pool itself retries after its pause.
RECOVERY_DEADLINE_SECONDS = 30.0


def _counts(runtime: Runtime) -> dict[str, int]:
    with runtime.db.sessions() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            or 0
            for model in WRITTEN
        }


@contextmanager
def _token_away(softhsm: SoftHsm) -> Iterator[None]:
    """The token's directory moved out of SoftHSM's reach, then put back."""
    [token_dir] = list(softhsm.tokens.iterdir())
    away = softhsm.root / "away"
    token_dir.rename(away)
    try:
        yield
    finally:
        away.rename(token_dir)


def _until_signed(
    api: TestClient, headers: dict[str, str], body: object
) -> httpx.Response:
    deadline = time.monotonic() + RECOVERY_DEADLINE_SECONDS
    while True:
        response = api.post(SIGN, headers=headers, json=body)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def _assert_hsm_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    error = response.json()["erreur"]
    assert error["code"] == "hsm_indisponible"
    assert "réessayez" in error["message"].lower()


def test_token_away_gives_503_stores_nothing_and_recovers(
    hsm_api: TestClient, hsm_runtime: Runtime, softhsm: SoftHsm
) -> None:
    assert hsm_runtime.token is not None
    # The pause after a failure, shortened so that the test waits less.
    hsm_runtime.token.pool.quiet_seconds = 0.1
    client = provision(hsm_runtime, algorithm="ecdsa-p256")
    first = hsm_api.post(
        SIGN, headers=client.headers, json=sign_body(client, one_page_pdf())
    )
    assert first.status_code == 200, first.text
    before = _counts(hsm_runtime)
    headers = {**client.headers, "Idempotency-Key": "hsm-absent-0001"}
    body = sign_body(client, one_page_pdf(), motif="Attestation pendant la panne")

    with _token_away(softhsm):
        during = [hsm_api.post(SIGN, headers=headers, json=body) for _ in range(3)]
        assert _counts(hsm_runtime) == before

    for response in during:
        _assert_hsm_unavailable(response)

    # The same request, retried with its idempotency key, is signed once the
    # token is back: no restart, one signature, billed once.
    after = _until_signed(hsm_api, headers, body)
    assert after.status_code == 200, after.text
    assert _until_signed(hsm_api, headers, body).json() == after.json()
    counts = _counts(hsm_runtime)
    assert counts["signatures"] == before["signatures"] + 1
    assert counts["usage_records"] == before["usage_records"] + 1


def test_token_away_at_b_t_names_the_hsm_not_the_tsa(
    hsm_api: TestClient, hsm_runtime: Runtime, softhsm: SoftHsm
) -> None:
    client = provision(hsm_runtime)
    before = _counts(hsm_runtime)

    with _token_away(softhsm):
        response = hsm_api.post(
            SIGN,
            headers=client.headers,
            json=sign_body(client, one_page_pdf(), niveau="B-T"),
        )

    _assert_hsm_unavailable(response)
    assert _counts(hsm_runtime) == before


def test_provisioning_with_the_token_away_writes_nothing(
    hsm_runtime: Runtime, softhsm: SoftHsm
) -> None:

    with _token_away(softhsm), pytest.raises(HsmUnavailable):
        provision(hsm_runtime, name="Banque Atlantique")

    with hsm_runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Client)) == 0


def _open_sessions(pool: SessionPool, count: int, *, use: bool = False) -> None:
    """Make the pool hold ``count`` sessions, by borrowing them all at once;
    with ``use``, each is asked something of the token first."""
    barrier = threading.Barrier(count)

    def hold(pooled: PooledSession) -> None:
        if use:
            # A search fails on a session closed under the pool.
            list(pooled.session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}))
        barrier.wait(timeout=30)

    threads = [
        threading.Thread(target=pool.run, args=(hold,), kwargs={"what": "test"})
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _sign_three(api: TestClient, client: Provisioned) -> None:
    for number in range(3):
        response = api.post(
            SIGN,
            headers=client.headers,
            json=sign_body(
                client, one_page_pdf(), niveau="B-B", motif=f"Acte {number}"
            ),
        )
        assert response.status_code == 200, response.text


@closes_sessions
def test_sessions_closed_behind_the_pool_are_replaced_without_login(
    hsm_api: TestClient, hsm_runtime: Runtime
) -> None:
    client = provision(hsm_runtime)
    assert hsm_runtime.token is not None
    pool = hsm_runtime.token.pool
    _open_sessions(pool, pool.size)
    logins = pool.logins

    # Every idle session but the one that logged in is closed under the
    # pool's feet (as a network HSM drops idle connections).
    closed = 0
    for pooled in list(pool._idle):
        if not pooled.holds_login:
            pooled.session.close()
            closed += 1
    assert closed == pool.size - 1

    _sign_three(hsm_api, client)
    # Every session at once, so the closed ones are used too (the idle list
    # is last in, first out): each is found closed and replaced.
    _open_sessions(pool, pool.size, use=True)
    assert pool.logins == logins == 1
    assert all(pool.module.logged_in(pooled.session) for pooled in pool._idle)
    assert sum(pooled.holds_login for pooled in pool._idle) == 1
    assert len(pool._idle) == pool.size


@closes_sessions
def test_all_sessions_closed_make_the_pool_log_in_again(
    hsm_api: TestClient, hsm_runtime: Runtime
) -> None:
    client = provision(hsm_runtime)
    assert hsm_runtime.token is not None
    pool = hsm_runtime.token.pool
    _open_sessions(pool, 2)

    # Closing the session that logged in logs the whole process out.
    for pooled in list(pool._idle):
        pooled.session.close()

    _sign_three(hsm_api, client)
    assert pool.logins == 2


def test_tsa_endpoint_with_the_token_away_answers_503(
    hsm_api: TestClient, softhsm: SoftHsm, tmp_path: Path
) -> None:
    data = tmp_path / "acte.txt"
    data.write_bytes(b"Attestation")
    query = tmp_path / "requete.tsq"
    assert (
        openssl("ts", "-query", "-data", data, "-sha256", "-out", query).returncode == 0
    )

    with _token_away(softhsm):
        response = hsm_api.post(
            "/tsa",
            content=query.read_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
        )

    _assert_hsm_unavailable(response)


def test_healthz_reports_the_keys_unavailable_while_the_token_is_away(
    hsm_api: TestClient, softhsm: SoftHsm
) -> None:
    assert hsm_api.get("/healthz").json()["cles"] == "ok"

    with _token_away(softhsm):
        away = hsm_api.get("/healthz")

    assert away.status_code == 503
    assert away.json()["cles"] == "indisponible"
