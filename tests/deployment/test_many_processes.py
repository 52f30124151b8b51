"""Two API processes and two workers behind nginx, on one PostgreSQL: nothing
relies on being the only process.

Requests go through nginx, or straight to one API process when the test is
about which process answers. Addresses other than 127.0.0.1 are other
loopback addresses (127.0.0.0/8 is all loopback): nginx passes each as the
client's, so each is a client of its own for the per-address limits.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyotp
from sqlalchemy import func, select

from sceau.anchoring.models import AnchorBatch, AnchorRecord
from sceau.billing.models import UsageRecord
from sceau.delegations.service import (
    delegation_document,
    get_for_person,
    sign_delegation,
)
from sceau.events.models import (
    STATUS_DELIVERED,
    STATUS_PENDING,
    Delivery,
    DeliveryAttempt,
)
from sceau.people.service import finish_enrolment, start_enrolment
from sceau.signing.models import SignatureRecord
from sceau.webhooks.service import add_endpoint
from sceau.webhooks.signatures import SecretBox
from tests.auth.conftest import new_hmac_secret, signed_headers, with_level
from tests.conftest import Provisioned, provision, sign_body
from tests.deployment.conftest import (
    AUTH_FAILURE_LIMIT,
    VERIFICATION_RATE,
    Deployed,
)
from tests.people.conftest import register
from tests.support.delegations import (
    DELEGATIONS,
    add_catalogue,
    delegated_sign_body,
    envelope_body,
)
from tests.support.pdfs import one_page_pdf

SIGN = "/api/v1/sceau/b2b/signer"
STATUS = "/api/v1/sceau/b2b/signatures/{ref}"
VERIFY = "/api/v1/sceau/verifier"
WAIT = 60.0
# A signature takes well under a second: a few 409s at most.
IDEMPOTENCY_RETRIES = 30


def http(base_url: str, source: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections come from ``source``."""
    return httpx.Client(
        base_url=base_url,
        timeout=60,
        trust_env=False,
        transport=httpx.HTTPTransport(local_address=source),
    )


def body(client: Provisioned, reason: str, **overrides: Any) -> dict[str, Any]:
    return sign_body(client, one_page_pdf(), motif=reason, niveau="B-T", **overrides)


def wait_until(condition: Any, what: str, deployed: Deployed) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        deployed.deployment.check_alive()
        assert time.monotonic() < deadline, f"{what}\n{deployed.deployment.logs()}"
        time.sleep(0.1)


# -- references --------------------------------------------------------------------


def test_mixed_traffic_through_nginx_gets_a_distinct_reference_per_signature(
    deployed: Deployed,
) -> None:
    client = provision(deployed.runtime, name="Société Ivoirienne de Banque", body=None)
    count = 48

    def one(n: int) -> tuple[str, int, int, str]:
        # Each request from an address of its own: the public verification's
        # per-address rate stays out of the way.
        with http(deployed.url, f"127.0.1.{n + 1}") as api:
            signed = api.post(
                SIGN, json=body(client, f"Relevé n° {n}"), headers=client.headers
            )
            assert signed.status_code == 200, signed.text
            ref = signed.json()["ref_signature"]
            status = api.get(STATUS.format(ref=ref), headers=client.headers)
            verified = api.post(
                VERIFY, json={"pdf_b64": signed.json()["pdf_signe_b64"]}
            )
        verdict = (
            verified.json()["verdict"]["indication"] if verified.is_success else ""
        )
        return ref, status.status_code, verified.status_code, verdict

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(count)))

    refs = [ref for ref, *_ in results]
    assert len(set(refs)) == count
    assert {(s, v, verdict) for _, s, v, verdict in results} == {
        (200, 200, "TOTAL-PASSED")
    }
    with deployed.runtime.db.sessions() as session:
        stored = session.scalars(
            select(SignatureRecord.ref).where(
                SignatureRecord.client_id == client.client_id
            )
        ).all()
    assert sorted(stored) == sorted(refs)
    # nginx shared the signatures between both processes.
    upstreams = Counter(
        line.rsplit("upstream=", 1)[1].split()[0]
        for line in deployed.deployment.nginx_access_log.read_text().splitlines()
        if f'"POST {SIGN}" 200' in line
    )
    assert set(upstreams) == {urlsplit(u).netloc for u in deployed.api_urls}


# -- idempotency -----------------------------------------------------------------


def test_an_idempotency_key_holds_across_processes(deployed: Deployed) -> None:
    client = provision(deployed.runtime, name="Atlanta Assurances", body=None)
    request = body(client, "Attestation de garantie n° 2026-04231")
    headers = {**client.headers, "Idempotency-Key": "attestation-2026-04231"}

    first, second = deployed.api_urls
    with http(first) as api:
        answered = api.post(SIGN, json=request, headers=headers)
    with http(second) as api:
        retried = api.post(SIGN, json=request, headers=headers)

    assert answered.status_code == retried.status_code == 200, retried.text
    assert retried.json() == answered.json()
    with deployed.runtime.db.sessions() as session:
        signatures = session.scalar(
            select(func.count())
            .select_from(SignatureRecord)
            .where(SignatureRecord.client_id == client.client_id)
        )
        billed = session.scalar(
            select(func.count())
            .select_from(UsageRecord)
            .where(UsageRecord.client_id == client.client_id)
        )
    assert (signatures, billed) == (1, 1)


def test_one_idempotency_key_sent_to_both_processes_at_once_signs_once(
    deployed: Deployed,
) -> None:
    """Each process gets the request at the same moment: one claims the key
    and signs, the other answers the first's answer, or 409 requete_en_cours
    while it runs; retried as its Retry-After says, it gets that answer."""
    client = provision(deployed.runtime, name="Sunu Assurances", body=None)
    request = body(client, "Avenant n° 2026-118")
    headers = {**client.headers, "Idempotency-Key": "avenant-2026-118"}
    both_ready = threading.Barrier(2, timeout=30)

    def send(base_url: str) -> tuple[list[int], httpx.Response]:
        seen = []
        with http(base_url) as api:
            both_ready.wait()
            for _ in range(IDEMPOTENCY_RETRIES):
                answer = api.post(SIGN, json=request, headers=headers)
                seen.append(answer.status_code)
                if answer.status_code != 409:
                    break
                assert answer.json()["erreur"]["code"] == "requete_en_cours"
                time.sleep(min(int(answer.headers["Retry-After"]), 5))
        return seen, answer

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(send, deployed.api_urls))

    for seen, last in outcomes:
        assert set(seen) <= {200, 409} and seen[-1] == 200, (seen, last.text)
    (_, first), (_, second) = outcomes
    assert first.json()["ref_signature"] == second.json()["ref_signature"]
    assert first.json() == second.json()
    with deployed.runtime.db.sessions() as session:
        signatures = session.scalar(
            select(func.count())
            .select_from(SignatureRecord)
            .where(SignatureRecord.client_id == client.client_id)
        )
        billed = session.scalar(
            select(func.count())
            .select_from(UsageRecord)
            .where(UsageRecord.client_id == client.client_id)
        )
    assert (signatures, billed) == (1, 1)


# -- HMAC nonces -------------------------------------------------------------------


def test_a_nonce_replayed_to_the_other_process_is_refused(deployed: Deployed) -> None:
    runtime = deployed.runtime
    client = provision(runtime, name="Trésor Public", body=None)
    secret = new_hmac_secret(runtime, client)
    with_level(runtime, client, "B")
    # The MAC covers the host: both processes are addressed under one name,
    # the balancer's, as a client that knows only that name would.
    host = urlsplit(deployed.url).netloc
    with http(deployed.url) as api:
        payload = httpx.Request("POST", "/", json=body(client, "Quittance n° 7")).read()
        signed = api.post(
            SIGN,
            content=payload,
            headers={
                **signed_headers(
                    client, secret, method="POST", path=SIGN, body=payload, host=host
                ),
                "Content-Type": "application/json",
            },
        )
    assert signed.status_code == 200, signed.text
    path = STATUS.format(ref=signed.json()["ref_signature"])
    once = {
        **signed_headers(client, secret, method="GET", path=path, host=host),
        "Host": host,
    }

    first, second = deployed.api_urls
    with http(first) as api:
        accepted = api.get(path, headers=once)
    with http(second) as api:
        replayed = api.get(path, headers=once)
        fresh = api.get(
            path,
            headers={
                **signed_headers(client, secret, method="GET", path=path, host=host),
                "Host": host,
            },
        )

    assert accepted.status_code == 200, accepted.text
    assert replayed.status_code == 401
    assert replayed.json()["erreur"]["code"] == "nonce_deja_utilise"
    assert fresh.status_code == 200, fresh.text


# -- the authentication failures' rate limit ------------------------------------------


def test_authentication_failures_count_across_processes(deployed: Deployed) -> None:
    blocked_source = "127.0.2.1"
    client = provision(deployed.runtime, name="Orange Money CI", body=None)
    wrong = {"X-Identity-API-Key": "pk_live_" + "0" * 32}
    status = STATUS.format(ref="SIG-20261203-000000")

    first, second = deployed.api_urls
    refusals = []
    for n in range(AUTH_FAILURE_LIMIT):
        with http(first if n % 2 == 0 else second, blocked_source) as api:
            refusals.append(api.get(status, headers=wrong).status_code)
    with http(second, blocked_source) as api:
        direct = api.get(status, headers=client.headers)
    with http(deployed.url, blocked_source) as api:
        balanced = api.get(status, headers=client.headers)
    with http(deployed.url, "127.0.2.2") as api:
        other = api.get(status, headers=client.headers)

    assert refusals == [401] * AUTH_FAILURE_LIMIT
    # Half the refusals went to each process; either blocks the address.
    assert direct.status_code == balanced.status_code == 429
    assert direct.json()["erreur"]["code"] == "trop_d_echecs_authentification"
    assert int(balanced.headers["Retry-After"]) >= 1
    # Another address is not blocked: it gets past authentication.
    assert other.status_code == 404, other.text


# -- delegations' daily limit --------------------------------------------------------


def test_a_delegations_daily_limit_counts_across_processes(deployed: Deployed) -> None:
    """The processes count the delegation's day by their own clock, the real
    one: the test reads it too, and waits (at most two minutes) when the
    day is about to end."""
    runtime = deployed.runtime
    client = provision(runtime, name="Atlanta Vie", body=None)
    add_catalogue(runtime, client)
    now = _away_from_midnight()
    officer = register(
        runtime,
        client,
        name="Awa Koné-Diabaté",
        email="a.diabate@atlanta-vie.example.ci",
        profession="dirigeant",
        now=now - timedelta(minutes=3),
    )
    enrolled_at = now - timedelta(minutes=2)
    with runtime.db.transaction() as session:
        secret = start_enrolment(
            session, runtime.sealer, officer.token, now=enrolled_at
        ).secret
        finish_enrolment(
            session,
            runtime.sealer,
            runtime.settings,
            officer.token,
            password="le fleuve Comoé coule vers la mer",
            first_code=pyotp.TOTP(secret).at(enrolled_at),
            now=enrolled_at,
        )
    today = now.date()
    quota = 3
    with http(deployed.url) as api:
        drafted = api.post(
            DELEGATIONS,
            json=envelope_body(
                officer.code_09,
                jours=[
                    "lundi",
                    "mardi",
                    "mercredi",
                    "jeudi",
                    "vendredi",
                    "samedi",
                    "dimanche",
                ],
                heure_debut="00:00",
                heure_fin="24:00",
                valide_du=str(today - timedelta(days=1)),
                valide_au=str(today + timedelta(days=300)),
                quota_journalier=quota,
            ),
            headers=client.headers,
        )
    assert drafted.status_code == 201, drafted.text
    ref = drafted.json()["ref_delegation"]
    signed_at = datetime.now(UTC)
    with runtime.db.sessions() as session:
        state = get_for_person(session, officer.person_id, ref, signed_at)
        shown = delegation_document(session, state.delegation)
    sign_delegation(
        runtime,
        person_id=officer.person_id,
        ref=ref,
        totp_code=pyotp.TOTP(secret).at(signed_at),
        shown_sha256=hashlib.sha256(shown).hexdigest(),
        request_id="req-deployment",
        now=signed_at,
    )

    attempts = 8

    def one(n: int) -> httpx.Response:
        with http(deployed.api_urls[n % 2]) as api:
            return api.post(
                SIGN,
                json=delegated_sign_body(
                    officer, one_page_pdf(), niveau="B-T", motif=f"Police n° {n}"
                ),
                headers=client.headers,
            )

    with ThreadPoolExecutor(attempts) as pool:
        answers = list(pool.map(one, range(attempts)))

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: quota, 403: attempts - quota}, [a.text for a in answers]
    limits = {a.json()["erreur"]["limite"] for a in answers if a.status_code == 403}
    assert limits == {"quota_journalier"}
    with runtime.db.sessions() as session:
        made = session.scalar(
            select(func.count())
            .select_from(SignatureRecord)
            .where(SignatureRecord.delegation_ref == ref)
        )
    assert made == quota


def _away_from_midnight() -> datetime:
    """Now, once the delegation's day (Abidjan, UTC+0) has more than two
    minutes left: the daily count must not start again mid-test. The wait
    is at most two minutes and a second."""
    return _away_from_boundary(timedelta(days=1), timedelta(minutes=2))


def _away_from_boundary(period: timedelta, margin: timedelta) -> datetime:
    """The real time, once more than ``margin`` is left before the next
    multiple of ``period`` since midnight UTC (sleeping at most ``margin``
    and a second)."""
    now = datetime.now(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    left = period - (now - day) % period
    if left < margin:
        time.sleep(left.total_seconds() + 1)
        now = datetime.now(UTC)
    return now


# -- the public verification's rate limit ----------------------------------------------


def test_the_verification_rate_counts_across_processes(deployed: Deployed) -> None:
    """Requests from one address, alternating between the processes, share
    one count per minute (the real clock's: the test keeps clear of the
    minute's end, waiting at most twenty seconds)."""
    source = "127.0.4.1"
    # A reference looked up counts like a document verified (one budget).
    unknown = f"{VERIFY}/SIG-20261203-000003"
    _away_from_boundary(timedelta(minutes=1), timedelta(seconds=20))
    first, second = deployed.api_urls
    answers = []
    for n in range(VERIFICATION_RATE + 1):
        with http(first if n % 2 == 0 else second, source) as api:
            answers.append(api.get(unknown))
    with http(deployed.url, source) as api:
        balanced = api.get(unknown)
    with http(deployed.url, "127.0.4.2") as api:
        other = api.get(unknown)

    statuses = [a.status_code for a in answers]
    assert statuses == [404] * VERIFICATION_RATE + [429], [a.text for a in answers]
    assert answers[-1].json()["erreur"]["code"] == "trop_de_verifications"
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert balanced.status_code == 429
    # Another address has its own count.
    assert other.status_code == 404, other.text


# -- events ------------------------------------------------------------------------


def test_every_event_is_delivered_once_per_destination(deployed: Deployed) -> None:
    """Delivery is at least once (a worker that dies mid-attempt leaves it to
    another); with every attempt answered at once, two workers polling the
    same outbox make each delivery exactly once."""
    runtime = deployed.runtime
    receiver = deployed.receiver
    client = provision(runtime, name="Sika Immobilier", body=None)
    box = SecretBox(runtime.settings.load_master_key())
    with runtime.db.transaction() as session:
        for path in ("/sika/a", "/sika/b"):
            add_endpoint(
                session,
                box,
                client_id=client.client_id,
                url=receiver.url(path),
                allow_http_loopback=True,
            )
    count = 30

    def one(n: int) -> str:
        with http(deployed.url) as api:
            signed = api.post(
                SIGN,
                # A third destination for each: the request's own callback.
                json=body(
                    client, f"Bail n° {n}", callback_url=receiver.url("/sika/rappel")
                ),
                headers=client.headers,
            )
        assert signed.status_code == 200, signed.text
        return str(signed.json()["ref_signature"])

    with ThreadPoolExecutor(16) as pool:
        refs = list(pool.map(one, range(count)))

    def settled() -> bool:
        with runtime.db.sessions() as session:
            waiting = session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.client_id == client.client_id,
                    Delivery.status == STATUS_PENDING,
                )
            )
        return waiting == 0

    wait_until(settled, "deliveries still pending", deployed)
    with runtime.db.sessions() as session:
        deliveries = session.execute(
            select(Delivery.seq, Delivery.status, Delivery.attempts).where(
                Delivery.client_id == client.client_id
            )
        ).all()
        attempts = Counter(
            session.scalars(
                select(DeliveryAttempt.delivery_seq).where(
                    DeliveryAttempt.delivery_seq.in_([d.seq for d in deliveries])
                )
            ).all()
        )

    # One attempt made of each delivery, by one worker: no other worker took
    # any of them, so no duplicate can still be on its way.
    assert len(deliveries) == 3 * count
    assert {(d.status, d.attempts) for d in deliveries} == {(STATUS_DELIVERED, 1)}
    assert attempts == {d.seq: 1 for d in deliveries}
    mine = [r for r in receiver.received if r.path.startswith("/sika/")]
    per_destination = Counter((r.path, r.headers["webhook-id"]) for r in mine)
    assert set(per_destination.values()) == {1}
    paths = Counter(path for path, _ in per_destination)
    assert paths == {"/sika/a": count, "/sika/b": count, "/sika/rappel": count}
    delivered_refs = {_ref_of(r.body) for r in mine if r.path == "/sika/rappel"}
    assert delivered_refs == set(refs)


def _ref_of(payload: bytes) -> str:
    return str(json.loads(payload)["data"]["ref_signature"])


# -- anchoring ---------------------------------------------------------------------


def test_every_anchoring_digest_is_submitted_once(deployed: Deployed) -> None:
    runtime = deployed.runtime
    client = provision(runtime, name="Banque Atlantique", body=None)

    def one(n: int) -> None:
        with http(deployed.url) as api:
            signed = api.post(
                SIGN, json=body(client, f"Avis n° {n}"), headers=client.headers
            )
        assert signed.status_code == 200, signed.text

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(32)))

    def submitted() -> bool:
        with runtime.db.sessions() as session:
            left = session.scalar(
                select(func.count())
                .select_from(AnchorBatch)
                .where(
                    (AnchorBatch.submitted_at.is_(None))
                    | (AnchorBatch.next_submit_at.is_not(None))
                )
            )
            unbatched = session.scalar(
                select(func.count())
                .select_from(AnchorRecord)
                .where(AnchorRecord.batch_id.is_(None))
            )
        return left == 0 and unbatched == 0

    wait_until(submitted, "anchoring batches not all submitted", deployed)
    with runtime.db.sessions() as session:
        roots = sorted(session.scalars(select(AnchorBatch.root)).all())
        records = session.scalar(select(func.count()).select_from(AnchorRecord))
        signatures = session.scalar(select(func.count()).select_from(SignatureRecord))

    # Every signature of the module, whichever process made it, is in one
    # batch, and each batch's root reached each calendar once.
    assert records == signatures
    for calendar in deployed.calendars:
        received = sorted(digest.hex() for digest in calendar.digests_received)
        assert received == roots


# -- what nginx itself answers and forwards ------------------------------------------


def test_a_body_over_the_limit_gets_the_services_answer_from_nginx(
    deployed: Deployed,
) -> None:
    limit = deployed.runtime.settings.max_body_bytes
    with http(deployed.url) as api:
        refused = api.post(
            SIGN,
            content=b"{" + b" " * limit + b"}",
            headers={"Content-Type": "application/json"},
        )

    assert refused.status_code == 413
    assert refused.json()["erreur"]["code"] == "corps_trop_volumineux"
    request_id = refused.headers["X-Request-Id"]

    def logged_lines() -> list[str]:
        return [
            line
            for line in deployed.deployment.nginx_access_log.read_text().splitlines()
            if f" {request_id} " in line
        ]

    # nginx writes the line once it is done with the connection (it reads
    # and drops the rest of the body first): after the answer.
    wait_until(logged_lines, f"no access-log line for {request_id}", deployed)
    # nginx answered it: its log line names no upstream, and its error log
    # says why.
    [logged] = logged_lines()
    assert f'"POST {SIGN}" 413 ' in logged
    assert " upstream=- " in logged
    assert "client intended to send too large body" in (
        deployed.deployment.nginx_error_log.read_text()
    )


def test_the_mutual_tls_fronts_headers_go_no_further_than_nginx(
    deployed: Deployed,
) -> None:
    """A level-C client sending, through nginx, what the TLS front would
    send for a verified certificate is still refused for want of one; and
    the API process never sees those headers (it logs the ones it ignores,
    as a direct request shows)."""
    client = provision(deployed.runtime, name="Ecobank CI", body=None)
    with_level(deployed.runtime, client, "C")
    certificate = (deployed.deployment.data_dir / "pki" / "root.crt").read_bytes()
    spoofed = {
        **client.headers,
        "X-Pixel-Front-Token": "un-jeton-devine",
        "X-Pixel-Front-Peer": "10.20.30.40",
        "X-Pixel-Front-Verify": "SUCCESS",
        "X-Pixel-Front-Cert": base64.b64encode(certificate).decode(),
    }
    status = STATUS.format(ref="SIG-20261203-000002")

    def ignored() -> int:
        return sum(
            process.log.read_text().count("auth.front_headers_ignored")
            for process in deployed.deployment.named("api-")
        )

    before = ignored()
    with http(deployed.url, "127.0.3.2") as api:
        balanced = api.get(status, headers=spoofed)
    after_nginx = ignored()
    with http(deployed.api_urls[0], "127.0.3.2") as api:
        direct = api.get(status, headers=spoofed)

    for refused in (balanced, direct):
        assert refused.status_code == 403, refused.text
        assert refused.json()["erreur"]["code"] == "certificat_client_requis"
    assert after_nginx == before
    assert ignored() == before + 1


def test_a_clients_own_forwarded_for_is_not_believed(deployed: Deployed) -> None:
    source = "127.0.3.1"
    client = provision(deployed.runtime, name="Moov Africa", body=None)
    wrong = {"X-Identity-API-Key": "pk_live_" + "1" * 32}
    status = STATUS.format(ref="SIG-20261203-000001")
    with http(deployed.url, source) as api:
        for n in range(AUTH_FAILURE_LIMIT):
            # Each refusal claims to come from somewhere else.
            spoofed = {**wrong, "X-Forwarded-For": f"198.51.100.{n + 1}"}
            assert api.get(status, headers=spoofed).status_code == 401
        blocked = api.get(status, headers=client.headers)

    # Every refusal was counted against the real address.
    assert blocked.status_code == 429
