"""A client's administrator in the console: the home page, keys shown once
and working at once, certificates, the IP allowlist, webhooks, the matrix
and its review date, incidents."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.audit.actors import Actor
from sceau.authority import service as authority
from sceau.catalogue.service import replace_catalogue
from sceau.events import types
from sceau.events.service import record_event
from sceau.incidents.service import open_incident
from sceau.runtime import Runtime
from sceau.webhooks.service import add_endpoint
from sceau.webhooks.signatures import SecretBox
from tests.conftest import Provisioned
from tests.console.conftest import (
    START,
    ConsoleAccount,
    csrf_of,
    issued_certificate,
    shown,
)
from tests.people.conftest import register
from tests.support.delegations import (
    DELEGATIONS,
    OFFICER_EMAIL,
    OFFICER_NAME,
    add_catalogue,
    envelope_body,
)

KEYS_API = "/api/v1/sceau/b2b/cles"


def _keys_page(site: TestClient, client: Provisioned) -> str:
    page = site.get(f"/console/clients/{client.client_id}/cles")
    assert page.status_code == 200, page.text
    return page.text


def _rotate(
    site: TestClient, client: Provisioned, kind: str, grace: str = "24"
) -> httpx.Response:
    page = site.get(f"/console/clients/{client.client_id}/cles")
    return site.post(
        f"/console/clients/{client.client_id}/cles/{kind}/renouveler",
        data={"csrf": csrf_of(page), "delai_grace_heures": grace},
    )


def test_home_shows_plan_state_usage_and_matrix(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned
) -> None:
    page = site.get(f"/console/clients/{atlanta.client_id}")

    assert page.status_code == 200
    text = shown(page)
    assert "Atlanta Assurances" in text
    assert "Pay-as-you-go" in text
    assert "Signatures ce mois-ci (2026-12)" in text
    assert 'id="signatures-du-mois">0<' in page.text
    assert "Matrice d'autorité" in text


def test_rotating_an_api_key_shows_it_once_and_it_works_at_once(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned, api: TestClient
) -> None:
    answer = _rotate(site, atlanta, "api")

    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    found = re.search(r'id="secret-unique">(psk_[^<]+)<', answer.text)
    assert found
    secret = found.group(1)
    assert "ne sera plus jamais affichée" in shown(answer)
    assert secret not in _keys_page(site, atlanta)

    # The new key works at once, and the old one through the overlap.
    assert api.get(KEYS_API, headers={"X-Identity-API-Key": secret}).status_code == 200
    assert api.get(KEYS_API, headers=atlanta.headers).status_code == 200
    assert "en recouvrement" in shown(
        site.get(f"/console/clients/{atlanta.client_id}/cles")
    )


def test_revoking_the_old_key_stops_it(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned, api: TestClient
) -> None:
    assert _rotate(site, atlanta, "api").status_code == 200
    page = site.get(f"/console/clients/{atlanta.client_id}/cles")

    revoked = site.post(
        f"/console/clients/{atlanta.client_id}/cles/api/{atlanta.api_key_id}/revoquer",
        data={"csrf": csrf_of(page)},
    )

    assert revoked.status_code == 303
    assert api.get(KEYS_API, headers=atlanta.headers).status_code == 401
    assert "révoquée" in shown(site.get(f"/console/clients/{atlanta.client_id}/cles"))


def test_rotating_an_hmac_secret_shows_it_once(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned
) -> None:
    answer = _rotate(site, atlanta, "hmac", grace="0")

    assert answer.status_code == 200
    found = re.search(r'id="secret-unique">([^<]+)<', answer.text)
    assert found
    assert found.group(1) not in _keys_page(site, atlanta)
    assert "Clé HMAC" in shown(site.get(f"/console/clients/{atlanta.client_id}/cles"))


@pytest.mark.parametrize("grace", ["1000", "-1", "nan", "inf", "1e12", "douze"])
def test_a_grace_period_out_of_range_is_refused_on_the_page(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned, grace: str
) -> None:
    answer = _rotate(site, atlanta, "api", grace=grace)

    assert answer.status_code == 422
    assert "entre 0 et 720" in shown(answer)
    assert "secret-unique" not in answer.text


def test_the_allowlist_is_edited_and_checked(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned
) -> None:
    url = f"/console/clients/{atlanta.client_id}/acces"
    page = site.get(url)

    saved = site.post(
        f"/console/clients/{atlanta.client_id}/liste-ip",
        data={"csrf": csrf_of(page), "reseaux": "196.47.128.0/24\n10.1.2.3"},
    )
    wrong = site.post(
        f"/console/clients/{atlanta.client_id}/liste-ip",
        data={"csrf": csrf_of(page), "reseaux": "pas-une-adresse"},
    )

    assert saved.status_code == 303
    assert wrong.status_code == 422
    assert "« pas-une-adresse » n'est pas une adresse" in shown(wrong)
    text = shown(site.get(url))
    assert "196.47.128.0/24" in text
    assert "10.1.2.3/32" in text


def test_a_client_certificate_is_listed_and_revoked(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned, runtime: Runtime
) -> None:
    fingerprint = issued_certificate(runtime, atlanta.client_id)
    url = f"/console/clients/{atlanta.client_id}/acces"
    page = site.get(url)
    assert fingerprint in page.text
    assert "valable" in shown(page)

    revoked = site.post(
        f"/console/clients/{atlanta.client_id}/certificats/{fingerprint}/revoquer",
        data={"csrf": csrf_of(page)},
    )

    assert revoked.status_code == 303
    assert "révoqué le" in shown(site.get(url))


def test_webhook_endpoints_are_listed(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned, runtime: Runtime
) -> None:
    with runtime.db.transaction() as session:
        add_endpoint(
            session,
            SecretBox(runtime.settings.load_master_key()),
            client_id=atlanta.client_id,
            url="https://atlanta.example.ci/webhooks/sceau",
        )
        record_event(
            session,
            client_id=atlanta.client_id,
            type=types.SIGNATURE_SIGNEE,
            data={"ref_signature": "SIG-TEST"},
            now=START,
        )

    page = site.get(f"/console/clients/{atlanta.client_id}/webhooks")

    assert page.status_code == 200
    text = shown(page)
    assert text.count("https://atlanta.example.ci/webhooks/sceau") == 2
    assert "signature.signee" in text
    assert "en_attente" in text


def _publish(runtime: Runtime, client: Provisioned, review_due: date) -> None:
    published_at = datetime.combine(
        review_due - timedelta(days=30), time(9), tzinfo=UTC
    )
    with runtime.db.transaction() as session:
        replace_catalogue(
            session, client.client_id, {"attestation": "Attestations"}, published_at
        )
        authority.publish(
            session,
            client.client_id,
            rules=[
                {
                    "type_acte": "attestation",
                    "mode": "systeme",
                    "code_09": client.code_09,
                }
            ],
            review_due=review_due,
            overdue_policy="avertir",
            author="operateur",
            now=published_at,
            by=Actor.operator(),
        )


def test_the_matrix_shows_its_review_date(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned, runtime: Runtime
) -> None:
    _publish(runtime, atlanta, START.date() + timedelta(days=10))

    page = shown(site.get(f"/console/clients/{atlanta.client_id}/matrice"))

    assert "Revue prévue le" in page
    assert "14/12/2026" in page
    assert "revue en retard" not in page
    assert "les actes « attestation »" in page


def test_an_overdue_review_is_shown(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned, runtime: Runtime
) -> None:
    _publish(runtime, atlanta, START.date() - timedelta(days=1))

    page = shown(site.get(f"/console/clients/{atlanta.client_id}/matrice"))
    home = shown(site.get(f"/console/clients/{atlanta.client_id}"))

    assert "03/12/2026" in page
    assert "revue en retard" in page
    assert "revue en retard" in home


def test_incidents_are_those_affecting_the_client(
    site: TestClient,
    admin: ConsoleAccount,
    atlanta: Provisioned,
    beta: Provisioned,
    runtime: Runtime,
) -> None:
    with runtime.db.transaction() as session:
        open_incident(
            session,
            title="Horodatage lent",
            impact="Signatures retardées",
            now=START,
            by=Actor.operator(),
        )
        open_incident(
            session,
            title="Panne propre à Bêta",
            impact="Bêta seulement",
            client_ids=[beta.client_id],
            now=START,
            by=Actor.operator(),
        )

    page = shown(site.get(f"/console/clients/{atlanta.client_id}/incidents"))
    home = shown(site.get(f"/console/clients/{atlanta.client_id}"))

    assert "Horodatage lent" in page
    assert "Panne propre à Bêta" not in page
    assert "1 incident(s) en cours" in home


def test_delegations_are_listed_with_their_state(
    site: TestClient, admin: ConsoleAccount, atlanta: Provisioned, runtime: Runtime
) -> None:
    assert "Aucune délégation." in shown(
        site.get(f"/console/clients/{atlanta.client_id}/delegations")
    )
    add_catalogue(runtime, atlanta)
    officer = register(
        runtime, atlanta, name=OFFICER_NAME, email=OFFICER_EMAIL, profession="dirigeant"
    )
    with TestClient(create_app(runtime.settings, runtime)) as api:
        api.app.state.api_clock = lambda: START  # type: ignore[attr-defined]
        drafted = api.post(
            DELEGATIONS, json=envelope_body(officer.code_09), headers=atlanta.headers
        )
    assert drafted.status_code == 201, drafted.text
    ref = drafted.json()["ref_delegation"]

    page = shown(site.get(f"/console/clients/{atlanta.client_id}/delegations"))

    assert ref in page
    assert OFFICER_NAME in page
    assert "à signer" in page
