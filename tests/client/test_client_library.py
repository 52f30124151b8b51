"""The Python client against the real service on loopback, at levels A and B
(level C: tests/tls)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from sceau.client import SceauApiError, SceauClient
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.signing.models import SignatureRecord
from tests.auth.conftest import new_hmac_secret, with_level
from tests.conftest import Provisioned
from tests.support.servers import LiveApp, live_app


@pytest.fixture
def server(settings: Settings, runtime: Runtime) -> Iterator[LiveApp]:
    with live_app(settings, runtime) as app:
        yield app


class LosesFirstAnswer(httpx.BaseTransport):
    """The network drops the first answer after the server has acted on it."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        if len(self.requests) == 1:
            response.read()
            response.close()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def signatures_of(runtime: Runtime, client: Provisioned) -> int:
    with runtime.db.sessions() as session:
        count = session.scalar(
            select(func.count())
            .select_from(SignatureRecord)
            .where(SignatureRecord.client_id == client.client_id)
        )
    return int(count or 0)


def sign(sceau: SceauClient, client: Provisioned, pdf: bytes) -> str:
    signed = sceau.sign_system(
        code_09=client.code_09,
        nom_signataire=client.label,
        motif="Attestation de garantie n° 2026-04231",
        pdf=pdf,
        niveau="B-T",
    )
    assert signed.statut == "signe" and signed.pdf_signe.startswith(b"%PDF")
    return signed.ref_signature


def test_level_a_signs_reads_and_downloads(
    server: LiveApp, atlanta: Provisioned, pdf: bytes
) -> None:
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        signed = sceau.sign_system(
            code_09=atlanta.code_09,
            nom_signataire=atlanta.label,
            motif="Attestation",
            pdf=pdf,
        )
        record = sceau.get_signature(signed.ref_signature)
        downloaded = sceau.download_signed_pdf(signed.ref_signature)

    assert record["sha256_signe"] == signed.sha256_signe
    assert record["niveau"] == "B-LT"
    assert downloaded == signed.pdf_signe
    assert signed.ref_horodatage.startswith("HRD-")


def test_api_errors_carry_the_api_code(
    server: LiveApp, atlanta: Provisioned, pdf: bytes
) -> None:
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        with pytest.raises(SceauApiError) as unknown:
            sceau.get_signature("SIG-20260101-ABCDEF")
        with pytest.raises(SceauApiError) as not_pdf:
            sceau.sign_system(
                code_09=atlanta.code_09,
                nom_signataire=atlanta.label,
                motif="Attestation",
                pdf=b"ceci n'est pas un PDF",
            )
    with (
        SceauClient(server.base_url, "psk_000000000000_nope") as stranger,
        pytest.raises(SceauApiError) as refused,
    ):
        stranger.get_signature("SIG-20260101-ABCDEF")

    assert (unknown.value.status, unknown.value.code) == (404, "signature_inconnue")
    assert not_pdf.value.status == 422 and not_pdf.value.code
    assert (refused.value.status, refused.value.code) == (401, "cle_api_invalide")
    assert refused.value.request_id


def test_level_b_signs_with_a_fresh_signature_each_request(
    runtime: Runtime, server: LiveApp, atlanta: Provisioned, pdf: bytes
) -> None:
    secret = new_hmac_secret(runtime, atlanta)
    with_level(runtime, atlanta, "B")

    with SceauClient(server.base_url, atlanta.api_key, hmac_secret=secret) as sceau:
        ref = sign(sceau, atlanta, pdf)
        again = sceau.get_signature(ref)
        twice = sceau.get_signature(ref)
    with (
        SceauClient(server.base_url, atlanta.api_key) as unsigned,
        pytest.raises(SceauApiError) as refused,
    ):
        unsigned.get_signature(ref)

    assert again == twice
    assert refused.value.code == "signature_hmac_manquante"


@pytest.mark.parametrize("level", ["A", "B"])
def test_retry_after_a_lost_answer_signs_once(
    runtime: Runtime, server: LiveApp, atlanta: Provisioned, pdf: bytes, level: str
) -> None:
    secret = new_hmac_secret(runtime, atlanta) if level == "B" else None
    with_level(runtime, atlanta, level)
    transport = LosesFirstAnswer()

    with SceauClient(
        server.base_url, atlanta.api_key, hmac_secret=secret, transport=transport
    ) as sceau:
        ref = sign(sceau, atlanta, pdf)

    first, retry = transport.requests
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"]
    if level == "B":
        assert first.headers["X-Pixel-Signature"] != retry.headers["X-Pixel-Signature"]
    assert signatures_of(runtime, atlanta) == 1
    with SceauClient(server.base_url, atlanta.api_key, hmac_secret=secret) as sceau:
        assert sceau.get_signature(ref)["ref_signature"] == ref


def test_client_rotates_its_credentials_and_goes_on(
    runtime: Runtime, server: LiveApp, atlanta: Provisioned, pdf: bytes
) -> None:
    secret = new_hmac_secret(runtime, atlanta)
    with_level(runtime, atlanta, "B")
    old_key = atlanta.api_key

    with SceauClient(server.base_url, old_key, hmac_secret=secret) as sceau:
        new_key = sceau.rotate_api_key(grace_hours=0)
        new_secret = sceau.rotate_hmac_secret(grace_hours=0)
        listed = sceau.list_credentials()
        ref = sign(sceau, atlanta, pdf)

    with (
        SceauClient(server.base_url, old_key, hmac_secret=new_secret) as stale,
        pytest.raises(SceauApiError) as refused,
    ):
        stale.get_signature(ref)

    assert new_key != old_key and new_secret != secret
    assert sorted(c["type"] for c in listed) == ["api", "hmac"]
    assert refused.value.code == "cle_api_invalide"
