"""The Python client's webhook and delivery methods, on a live server, with
deliveries verified by the standardwebhooks package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook

from sceau.client import SceauApiError, SceauClient
from sceau.events import types
from sceau.events.service import emit
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.support.events import Receiver, Reply, drain, make_worker
from tests.support.servers import LiveApp, live_app


@pytest.fixture
def server(runtime: Runtime) -> Iterator[LiveApp]:
    with live_app(runtime.settings, runtime) as app:
        yield app


def test_client_manages_its_webhooks_and_redelivers(
    runtime: Runtime, server: LiveApp, atlanta: Provisioned, receiver: Receiver
) -> None:
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        made = sceau.create_webhook(receiver.url(), events=["acte.signe"])
        listed = sceau.list_webhooks()
        rotated = sceau.rotate_webhook_secret(made["id"])
        secret = sceau.webhook_secret(made["id"])
        with runtime.db.transaction() as session:
            emit(session, client_id=atlanta.client_id, type=types.ACTE_SIGNE, data={})
        receiver.replies = [Reply(500)]
        make_worker(runtime).run_once()
        [failed] = sceau.list_deliveries(etat="en_attente")
        sceau.redeliver(failed["id"])
        drain(make_worker(runtime))
        paused = sceau.update_webhook(made["id"], active=False)
        sceau.delete_webhook(made["id"])
        after = sceau.list_webhooks()
        with pytest.raises(SceauApiError) as unknown:
            sceau.webhook_secret(made["id"])

    assert made["secret"].startswith("whsec_") and "secret" not in listed[0]
    assert secret["secret"] == rotated["secret"]
    assert failed["essais"][0]["statut_http"] == 500
    delivered = receiver.received[-1]
    assert Webhook(rotated["secret"]).verify(delivered.body, delivered.headers)[
        "type"
    ] == ("acte.signe")
    assert paused["actif"] is False
    assert after == []
    assert unknown.value.status == 404
