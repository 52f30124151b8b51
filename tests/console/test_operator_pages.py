"""The operator in the console: every client, any client's pages, the
integration's steps, and incidents declared, updated and closed."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from sceau.events.models import Event
from sceau.incidents.models import Incident
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.console.conftest import (
    AGREEMENT,
    ConsoleAccount,
    csrf_of,
    new_gamma,
    shown,
)


def test_the_operator_lists_every_client_and_opens_any(
    site: TestClient,
    operator: ConsoleAccount,
    atlanta: Provisioned,
    beta: Provisioned,
) -> None:
    home = site.get("/console")
    assert home.headers["location"] == "/console/clients"

    listing = shown(site.get("/console/clients"))
    assert "Atlanta Assurances" in listing
    assert "Bêta Finance" in listing

    for client in (atlanta, beta):
        assert site.get(f"/console/clients/{client.client_id}/cles").status_code == 200


def test_the_operator_moves_a_client_one_step_at_a_time(
    site: TestClient, operator: ConsoleAccount, runtime: Runtime
) -> None:
    client_id = new_gamma(runtime)
    url = f"/console/clients/{client_id}/cycle"
    page = site.get(url)
    assert 'name="etape" value="convention"' in page.text
    token = csrf_of(page)

    skipped = site.post(url, data={"csrf": token, "etape": "production"})
    no_agreement = site.post(url, data={"csrf": token, "etape": "convention"})
    not_json = site.post(
        url, data={"csrf": token, "etape": "convention", "convention": "{pas"}
    )
    moved = site.post(
        url,
        data={
            "csrf": token,
            "etape": "convention",
            "convention": json.dumps(AGREEMENT),
            "note": "Convention signée le 4/12",
        },
    )

    assert skipped.status_code == 409
    assert "l'étape suivante est « convention »" in shown(skipped)
    assert no_agreement.status_code == 422
    assert not_json.status_code == 422
    assert "s'écrivent en JSON" in shown(not_json)
    assert moved.status_code == 303, moved.text
    after = site.get(url)
    assert 'name="etape" value="provisionne"' in after.text
    assert "Convention signée le 4/12" in shown(after)
    assert f"console:{_user_id(site)}" in shown(after)
    assert "convention signée" in shown(site.get("/console/clients"))


def _user_id(site: TestClient) -> str:
    # The actor is the logged-in user: the only console user here.
    from sceau.console.models import ConsoleUser

    runtime: Runtime = site.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.sessions() as session:
        return str(session.scalars(select(ConsoleUser.id)).one())


def test_the_operator_declares_updates_and_closes_an_incident(
    site: TestClient,
    operator: ConsoleAccount,
    atlanta: Provisioned,
    runtime: Runtime,
) -> None:
    page = site.get("/console/incidents")

    empty = site.post(
        "/console/incidents", data={"csrf": csrf_of(page), "titre": "", "impact": ""}
    )
    opened = site.post(
        "/console/incidents",
        data={
            "csrf": csrf_of(page),
            "titre": "Horodatage indisponible",
            "impact": "Les signatures B-T échouent",
            "clients": atlanta.client_id,
        },
    )

    unknown = site.post(
        "/console/incidents",
        data={
            "csrf": csrf_of(page),
            "titre": "Panne",
            "impact": "Tout",
            "clients": "cli_inexistant",
        },
    )
    assert empty.status_code == 422
    assert unknown.status_code == 422
    assert "Un des clients indiqués n'existe pas" in shown(unknown)
    assert opened.status_code == 303
    with runtime.db.sessions() as session:
        incident = session.scalars(select(Incident)).one()
    assert incident.client_ids == [atlanta.client_id]

    updated = site.post(
        f"/console/incidents/{incident.id}/mise-a-jour",
        data={"csrf": csrf_of(page), "message": "Cause trouvée"},
    )
    closed = site.post(
        f"/console/incidents/{incident.id}/cloture",
        data={"csrf": csrf_of(page), "message": ""},
    )
    again = site.post(
        f"/console/incidents/{incident.id}/cloture",
        data={"csrf": csrf_of(page), "message": ""},
    )

    assert (updated.status_code, closed.status_code) == (303, 303)
    assert again.status_code == 409
    with runtime.db.sessions() as session:
        told = session.scalars(
            select(Event.type).where(Event.subject == incident.id)
        ).all()
    assert sorted(told) == ["incident.clos", "incident.mis_a_jour", "incident.ouvert"]
    listing = shown(site.get("/console/incidents"))
    assert "Horodatage indisponible" in listing
    assert "clos" in listing
    client_view = shown(site.get(f"/console/clients/{atlanta.client_id}/incidents"))
    assert "Horodatage indisponible" in client_view
