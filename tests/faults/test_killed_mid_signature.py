"""An API process killed with SIGKILL in the middle of a signature, while its
timestamp is being fetched: nothing of the request is kept but its hold on the
idempotency key, and the client's retry with the same key, once another
process serves, gets one signature, billed once."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.conftest import Provisioned, provision, sign_body
from tests.faults.harness import (
    SIGN_PATH,
    HoldingTsa,
    ServiceProcess,
    expire_hold,
    holdings,
    running,
)
from tests.support.deployment import service_env
from tests.support.pdfs import one_page_pdf

KEY = "commande-2026-04231-essai-1"
# A hold no request outlives, even on a loaded machine; a test that needs it
# run out dates it back in the database (``expire_hold``).
LOCK_SECONDS = 600
LEASE = timedelta(seconds=LOCK_SECONDS)


@pytest.fixture
def prepared(
    data_dir: Path, database_url: str
) -> Iterator[tuple[Provisioned, Runtime]]:
    runtime = Runtime(Settings(data_dir=data_dir, database_url=database_url))
    runtime.prepare()
    yield provision(runtime), runtime
    runtime.close()


@pytest.fixture
def tsa(prepared: tuple[Provisioned, Runtime]) -> Iterator[HoldingTsa]:
    # The service's own authority, behind a loopback HTTP server of ours.
    server = HoldingTsa(prepared[1].tsa)
    yield server
    server.close()


def _sign(
    url: str, client: Provisioned, body: dict[str, object], key: str = KEY
) -> httpx.Response:
    return httpx.post(
        f"{url}{SIGN_PATH}",
        headers={**client.headers, "Idempotency-Key": key},
        json=body,
        timeout=90,
    )


def _warm_up(url: str, client: Provisioned) -> str:
    """A first signature in the process, under another key: the time-stamper
    has fetched its size probe, so the next TSA request is a signature's own."""
    answer = _sign(url, client, sign_body(client, one_page_pdf()), "echauffement")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["ref_signature"])


def test_a_process_killed_mid_signature_leaves_one_signature_billed_once_on_retry(
    prepared: tuple[Provisioned, Runtime],
    tsa: HoldingTsa,
    data_dir: Path,
    database_url: str,
    tmp_path: Path,
) -> None:
    client, _ = prepared
    body = sign_body(client, one_page_pdf(), niveau="B-T")
    env = service_env(
        data_dir,
        database_url,
        {
            "SCEAU_TSA_URLS": tsa.url,
            "SCEAU_TSA_TIMEOUT_SECONDS": "60",
            "SCEAU_IDEMPOTENCY_LOCK_SECONDS": str(LOCK_SECONDS),
        },
    )
    first = ServiceProcess(env, tmp_path).start()
    second = ServiceProcess(env, tmp_path)
    with running(first, second):
        first.wait_ready()
        warm = _warm_up(first.url, client)

        # The first attempt stops at its timestamp: the TSA holds it.
        tsa.arm()
        outcome: list[BaseException | httpx.Response] = []

        def first_attempt() -> None:
            try:
                outcome.append(_sign(first.url, client, body))
            except httpx.TransportError as exc:
                outcome.append(exc)

        attempt = threading.Thread(target=first_attempt)
        attempt.start()
        assert tsa.held.wait(60), f"no timestamp asked: {first.output()}"

        # While it runs, the same key is told so, with when to come back.
        busy = _sign(first.url, client, body)
        assert busy.status_code == 409, busy.text
        assert busy.json()["erreur"]["code"] == "requete_en_cours"
        assert 1 <= int(busy.headers["Retry-After"]) <= 5

        first.kill()
        attempt.join(30)
        tsa.release()

        # The client saw its connection drop, and nothing was kept but the
        # key's hold.
        [dropped] = outcome
        assert isinstance(dropped, httpx.TransportError)
        engine = create_engine(database_url)
        after_crash = holdings(engine)
        assert after_crash.signatures == {warm}
        assert after_crash.usage == [warm]
        assert after_crash.events == [warm]
        assert after_crash.anchors == 1
        assert after_crash.deliveries == 0
        assert after_crash.idempotency[KEY] == ("en_cours", None)
        assert after_crash.orphans() == []

        # Another process serves; until the dead attempt's hold runs out,
        # the client's retry is told to come back later.
        second.start().wait_ready()
        early = _sign(second.url, client, body)
        assert early.status_code == 409, early.text
        assert early.json()["erreur"]["code"] == "requete_en_cours"

        # Once it has run out, the same request with the same key is signed.
        expire_hold(engine, KEY, LEASE)
        answer = _sign(second.url, client, body)
        assert answer.status_code == 200, answer.text
        signed = answer.json()
        assert signed["statut"] == "signe"
        assert base64.b64decode(signed["pdf_signe_b64"]).startswith(b"%PDF")
        assert "Idempotent-Replayed" not in answer.headers

        # And once more: the same answer, replayed, not a second signature.
        again = _sign(second.url, client, body)
        assert again.status_code == 200
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["ref_signature"] == signed["ref_signature"]

    held = holdings(engine)
    engine.dispose()
    ref = signed["ref_signature"]
    assert held.signatures == {warm, ref}
    assert sorted(held.usage) == sorted([warm, ref])
    assert sorted(held.events) == sorted([warm, ref])
    assert held.anchors == 2
    assert held.idempotency == {
        "echauffement": ("termine", warm),
        KEY: ("termine", ref),
    }
    assert held.orphans() == []


def test_a_slow_attempt_overtaken_by_its_retry_is_not_a_second_signature(
    prepared: tuple[Provisioned, Runtime],
    tsa: HoldingTsa,
    data_dir: Path,
    database_url: str,
    tmp_path: Path,
) -> None:
    """A first attempt alive but stuck past its hold on the key (a TSA that
    answers after minutes): the retry takes the key over and signs; when the
    first attempt comes back, its completion is refused and rolled back."""
    client, _ = prepared
    body = sign_body(client, one_page_pdf(), niveau="B-T")
    env = service_env(
        data_dir,
        database_url,
        {
            "SCEAU_TSA_URLS": tsa.url,
            "SCEAU_TSA_TIMEOUT_SECONDS": "60",
            "SCEAU_IDEMPOTENCY_LOCK_SECONDS": str(LOCK_SECONDS),
        },
    )
    service = ServiceProcess(env, tmp_path).start()
    with running(service):
        service.wait_ready()
        warm = _warm_up(service.url, client)
        tsa.arm()
        outcome: list[httpx.Response] = []
        slow = threading.Thread(
            target=lambda: outcome.append(_sign(service.url, client, body))
        )
        slow.start()
        assert tsa.held.wait(60), f"no timestamp asked: {service.output()}"

        # The retry, once the slow attempt's hold has run out, signs.
        engine = create_engine(database_url)
        expire_hold(engine, KEY, LEASE)
        retry = _sign(service.url, client, body)
        assert retry.status_code == 200, retry.text
        ref = retry.json()["ref_signature"]

        # The slow attempt ends: it is told the key is another's, and keeps
        # nothing; asked again, the key gives the retry's signature.
        tsa.release()
        slow.join(60)
        [late] = outcome
        assert late.status_code == 409, late.text
        assert late.json()["erreur"]["code"] == "requete_en_cours"
        replay = _sign(service.url, client, body)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json()["ref_signature"] == ref

    held = holdings(engine)
    engine.dispose()
    assert held.signatures == {warm, ref}
    assert sorted(held.usage) == sorted([warm, ref])
    assert held.idempotency[KEY] == ("termine", ref)
    assert held.orphans() == []
