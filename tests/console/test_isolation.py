"""A client's users never reach another client's data, and readers change
nothing: every console page and action is walked, from the application's own
route table, so that a page added later is walked too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.routing import APIRoute, APIRouter
from fastapi.testclient import TestClient

from sceau.audit.actors import Actor
from sceau.billing.invoices import close_month
from sceau.clients.certificates import issue_pkcs12
from sceau.clients.service import create_hmac_secret, list_api_keys
from sceau.console.routes import router
from sceau.incidents.service import open_incident
from sceau.runtime import Runtime
from sceau.webhooks.service import add_endpoint
from sceau.webhooks.signatures import SecretBox
from tests.billing.conftest import metered
from tests.conftest import Provisioned
from tests.console.conftest import FrozenClock, csrf_of, signed_in_as

# Pages before login, and logout: nothing of any client's.
PUBLIC = {"/console/connexion", "/console/deconnexion", "/console/inscription/{token}"}


def console_routes(runtime: Runtime) -> list[tuple[str, str]]:
    """(method, path) of every console route but the public ones."""
    return [
        (method, path)
        for method, path in _walk(router)
        if path not in PUBLIC and method != "HEAD"
    ]


def _walk(parent: APIRouter, prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in parent.routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods or ()):
                yield method, prefix + route.path
        included = getattr(route, "original_router", None)
        if isinstance(included, APIRouter):
            context = route.include_context  # type: ignore[attr-defined]
            yield from _walk(included, prefix + context.prefix)


class AtlantaData:
    """Atlanta's ids, which fill every path, and what must never show."""

    def __init__(self, runtime: Runtime, atlanta: Provisioned) -> None:
        with runtime.db.transaction() as session:
            hmac = create_hmac_secret(
                session, runtime.sealer, atlanta.client_id, by=Actor.operator()
            )
            issued, _ = issue_pkcs12(
                session,
                runtime.access_ca,
                atlanta.client_id,
                "une phrase assez longue",
                by=Actor.operator(),
            )
            self.incident = open_incident(
                session,
                title="Incident propre à Atlanta",
                impact="Atlanta seulement",
                client_ids=[atlanta.client_id],
                by=Actor.operator(),
            ).id
            (key,) = list_api_keys(session, atlanta.client_id)
            self.key_prefix = key.prefix
            add_endpoint(
                session,
                SecretBox(runtime.settings.load_master_key()),
                client_id=atlanta.client_id,
                url="https://atlanta.example.ci/webhooks/sceau",
            )
        metered(runtime, atlanta, 2, datetime(2026, 11, 3, tzinfo=UTC))
        (invoice,) = close_month(
            runtime,
            "2026-11",
            now=datetime(2026, 12, 2, tzinfo=UTC),
            by=Actor.operator(),
        )
        self.ids = {
            "client_id": atlanta.client_id,
            "kind": "api",
            "credential_id": atlanta.api_key_id,
            "fingerprint": issued.record.fingerprint,
            "number": invoice.number,
            "incident_id": self.incident,
        }
        self.secrets = [
            "Atlanta",
            atlanta.api_key_id,
            self.key_prefix,
            hmac.id,
            issued.record.fingerprint,
            invoice.number,
            "atlanta.example.ci/webhooks",
            self.incident,
        ]

    def path(self, template: str) -> str:
        return template.format(**self.ids)


@pytest.fixture
def atlanta_data(runtime: Runtime, atlanta: Provisioned) -> AtlantaData:
    return AtlantaData(runtime, atlanta)


def test_another_clients_user_reaches_nothing_of_atlanta(
    site: TestClient,
    runtime: Runtime,
    clock: FrozenClock,
    atlanta: Provisioned,
    beta: Provisioned,
    atlanta_data: AtlantaData,
) -> None:
    signed_in_as(
        site,
        runtime,
        clock,
        email="admin@beta.example.ci",
        role="administrateur",
        client_id=beta.client_id,
    )
    token = csrf_of(site.get(f"/console/clients/{beta.client_id}"))
    routes = console_routes(runtime)
    assert len(routes) >= 20

    for method, template in routes:
        path = atlanta_data.path(template)
        if method == "GET":
            answer = site.get(path)
        else:
            answer = site.post(path, data={"csrf": token, "message": "x"})
        if template == "/console":
            assert answer.status_code == 303
            assert atlanta.client_id not in answer.headers["location"]
            continue
        assert answer.status_code in (403, 404), (method, path, answer.status_code)
        assert answer.headers["content-type"].startswith("text/html")
        for secret in atlanta_data.secrets:
            assert secret not in answer.text, (method, path, secret)

    # Nothing of Atlanta's changed: its key still works, its incident is open.
    with runtime.db.sessions() as session:
        (key,) = list_api_keys(session, atlanta.client_id)
        assert key.revoked_at is None


def test_a_reader_changes_nothing(
    site: TestClient,
    runtime: Runtime,
    clock: FrozenClock,
    atlanta: Provisioned,
    atlanta_data: AtlantaData,
) -> None:
    signed_in_as(
        site,
        runtime,
        clock,
        email="lecteur@atlanta.example.ci",
        role="lecteur",
        client_id=atlanta.client_id,
    )
    keys = site.get(f"/console/clients/{atlanta.client_id}/cles")
    token = csrf_of(keys)
    assert "Renouveler" not in keys.text
    assert "Révoquer" not in keys.text
    access = site.get(f"/console/clients/{atlanta.client_id}/acces").text
    assert 'action="/console/clients/' not in keys.text + access

    posts = [path for method, path in console_routes(runtime) if method == "POST"]
    assert len(posts) >= 8
    for template in posts:
        answer = site.post(
            atlanta_data.path(template),
            data={"csrf": token, "reseaux": "10.0.0.0/8", "message": "x", "etape": "x"},
        )
        assert answer.status_code == 403, (template, answer.status_code)
        assert "Action refusée" in answer.text

    # Every GET page still opens for the reader.
    for method, template in console_routes(runtime):
        if method != "GET" or template in (
            "/console",
            "/console/clients",
            "/console/incidents",
        ):
            continue
        if "cycle" in template:
            continue
        answer = site.get(atlanta_data.path(template))
        assert answer.status_code == 200, (template, answer.status_code)

    with runtime.db.sessions() as session:
        (key,) = list_api_keys(session, atlanta.client_id)
        assert key.revoked_at is None
