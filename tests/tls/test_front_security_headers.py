"""HSTS through the mutual-TLS front: the browser's or the client's
connection was TLS though the application's is a Unix socket, so the
answer carries HSTS (and a page's cookie is Secure); the front's headers
sent any other way turn neither on."""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sceau.ops.security_headers import STRICT_TRANSPORT_SECURITY
from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.auth.conftest import with_level
from tests.conftest import Provisioned
from tests.support.servers import MtlsFront, mtls_front
from tests.tls.test_mtls_front import Holder, holder, tls_client


@pytest.fixture
def front(settings: Settings, runtime: Runtime) -> Iterator[MtlsFront]:
    # A short directory: a Unix socket's path is limited to 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="sceau-front-"))
    try:
        with mtls_front(settings, runtime, directory) as running:
            yield running
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def bank(runtime: Runtime, atlanta: Provisioned, tmp_path: Path) -> Holder:
    with_level(runtime, atlanta, "C", allowlist=["127.0.0.1/32", "::1"])
    return holder(runtime, atlanta, tmp_path / "bank")


def test_answers_through_the_front_carry_hsts_and_secure_cookies(
    front: MtlsFront, bank: Holder
) -> None:
    with tls_client(front, (bank.cert, bank.key)) as client:
        health = client.get("/healthz")
        login = client.get("/signer/connexion")

    assert health.status_code == 200
    for answer in (health, login):
        assert answer.headers["strict-transport-security"] == (
            STRICT_TRANSPORT_SECURITY
        )
    cookies = login.headers.get_list("set-cookie")
    assert cookies
    assert all("secure" in cookie.lower() for cookie in cookies)


def test_front_headers_without_the_front_turn_nothing_on(
    front: MtlsFront, bank: Holder
) -> None:
    forged = {
        "X-Pixel-Front-Peer": "127.0.0.1",
        "X-Pixel-Front-Verify": "SUCCESS",
        "X-Pixel-Front-Cert": base64.b64encode(bank.der).decode(),
        "X-Pixel-Front-Token": "pas-le-bon",
    }
    socket = httpx.HTTPTransport(uds=str(front.files.app_socket))

    direct = httpx.get(front.direct_url + "/signer/connexion", headers=forged)
    with httpx.Client(transport=socket, base_url="http://front") as local:
        on_the_socket = local.get("/signer/connexion", headers=forged)

    for answer in (direct, on_the_socket):
        assert answer.status_code == 200
        assert "strict-transport-security" not in answer.headers
        cookies = answer.headers.get_list("set-cookie")
        assert cookies
        assert not any("secure" in cookie.lower() for cookie in cookies)
