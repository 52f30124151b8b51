"""Hostile callback URLs are refused at request time and at every attempt,
and no connection is ever attempted to them."""

from __future__ import annotations

import ipaddress

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sceau.events import types
from sceau.events.models import STATUS_PENDING, Delivery
from sceau.events.service import emit
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from sceau.webhooks.errors import CallbackUrlRefused
from sceau.webhooks.ssrf import check_url, is_public
from tests.conftest import Provisioned, sign_body
from tests.support.events import (
    ConnectionLog,
    Receiver,
    Reply,
    drain,
    make_worker,
    resolving,
)

SIGN = "/api/v1/sceau/b2b/signer"

HOSTILE = [
    "https://127.0.0.1/rappel",
    "https://10.0.0.1/rappel",
    "https://[::1]/rappel",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/",
    "https://192.168.1.10:8443/",
    "https://[fd00:ec2::254]/",
    "https://[::ffff:10.0.0.1]/",
    "https://[64:ff9b::a00:1]/",
    "https://224.0.0.1/",
    "https://0.0.0.0/",
    "https://localhost/rappel",
    "https://2130706433/",
    "http://atlanta.example.ci/rappel",
    "https://user:motdepasse@atlanta.example.ci/rappel",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_callback_url_is_refused_before_signing(
    data_dir: object, database_url: str, atlanta: Provisioned, pdf: bytes, url: str
) -> None:
    # A runtime that does not allow loopback: production's rules.
    from sceau.app import create_app
    from sceau.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=database_url, log_format="text")
    strict = Runtime(settings)
    with (
        ConnectionLog.watching() as log,
        TestClient(create_app(settings, strict)) as api,
    ):
        response = api.post(
            SIGN,
            json=sign_body(atlanta, pdf, callback_url=url),
            headers=atlanta.headers,
        )
    strict.close()

    assert response.status_code == 422, response.text
    error = response.json()["erreur"]
    assert error["code"] == "callback_url_refusee"
    assert error["message"].startswith("callback_url refusée : ")
    assert not [a for a in log.addresses if not a.startswith(("127.", "/"))]
    with strict.db.sessions() as session:
        signed = session.scalar(select(func.count()).select_from(SignatureRecord))
    assert signed == 0


@pytest.mark.parametrize(
    "address",
    ["::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "2002:0a00:0001::1", "ff02::1"],
)
def test_ipv6_equivalents_of_private_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def test_public_addresses_are_public() -> None:
    assert is_public(ipaddress.ip_address("8.8.8.8"))
    assert is_public(ipaddress.ip_address("2001:4860:4860::8888"))


def test_a_name_resolving_to_a_private_address_is_refused_without_connecting(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    resolver = resolving({"interne.atlanta.example.ci": ["10.0.0.1"]})
    with pytest.raises(CallbackUrlRefused):
        check_url(
            "https://interne.atlanta.example.ci/rappel",
            allow_http_loopback=False,
            resolver=resolver,
        )
    with runtime.db.transaction() as session:
        emit(
            session,
            client_id=atlanta.client_id,
            type=types.ACTE_CREE,
            data={},
            callback_url="https://interne.atlanta.example.ci/rappel",
        )

    with ConnectionLog.watching() as log:
        drain(make_worker(runtime, resolver=resolver), steps=1)

    assert "10.0.0.1" not in log.addresses
    with runtime.db.sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
    assert delivery.status == STATUS_PENDING  # retried later, checked again
    assert delivery.last_error is not None
    assert "adresse non publique (10.0.0.1)" in delivery.last_error


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    # The name resolves to the receiver; the request must reach that address
    # and still say the name.
    resolver = resolving({"rappel.atlanta.test": ["127.0.0.1"]})
    url = f"http://rappel.atlanta.test:{receiver.port}/rappel"
    with runtime.db.transaction() as session:
        emit(
            session,
            client_id=atlanta.client_id,
            type=types.ACTE_CREE,
            data={},
            callback_url=url,
        )

    drain(make_worker(runtime, resolver=resolver))

    [got] = receiver.received
    assert got.headers["host"] == f"rappel.atlanta.test:{receiver.port}"
    assert got.path == "/rappel"


def test_a_redirect_to_a_private_address_is_not_followed(
    runtime: Runtime, atlanta: Provisioned, receiver: Receiver
) -> None:
    receiver.replies = [Reply(302, {"Location": "http://10.0.0.1/admin"})]
    with runtime.db.transaction() as session:
        emit(
            session,
            client_id=atlanta.client_id,
            type=types.ACTE_CREE,
            data={},
            callback_url=receiver.url(),
        )

    with ConnectionLog.watching() as log:
        drain(make_worker(runtime), steps=1)

    assert "10.0.0.1" not in log.addresses
    assert len(receiver.received) == 1
    with runtime.db.sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
    assert delivery.last_status == 302
    assert delivery.last_error == "redirection vers http://10.0.0.1/admin non suivie"
