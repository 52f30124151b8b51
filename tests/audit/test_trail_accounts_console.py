"""What the audit trail keeps of the console: its users' logins and
failures, and the credentials, allowlists, steps and incidents its users
change, each under the user who did it and the address they came from."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from sceau.audit.actors import Actor
from sceau.audit.service import entries_about
from sceau.console.models import ConsoleUser
from sceau.console.users import reset_user
from sceau.incidents.models import Incident
from sceau.runtime import Runtime
from tests.audit.conftest import entries_of, stored_text
from tests.conftest import Provisioned
from tests.console.conftest import (
    AGREEMENT,
    PASSWORD,
    ConsoleAccount,
    FrozenClock,
    admin,
    clock,
    csrf_of,
    enrol,
    issued_certificate,
    log_in,
    new_gamma,
    new_user,
    operator,
    runtime,
    site,
)

__all__ = ["admin", "clock", "operator", "runtime", "site"]


def _user_id(runtime: Runtime, email: str) -> str:
    with runtime.db.sessions() as session:
        return str(
            session.scalars(
                select(ConsoleUser.id).where(ConsoleUser.email == email)
            ).one()
        )


# -- logins ----------------------------------------------------------------------


def test_a_console_login_is_in_the_trail_without_any_secret(
    site: TestClient, runtime: Runtime, admin: ConsoleAccount, atlanta: Provisioned
) -> None:
    [login] = entries_of(runtime, "console.connexion.reussie")

    user_id = _user_id(runtime, admin.email)
    assert login.subject == user_id
    assert login.actor["kind"] == "utilisateur_console"
    assert login.actor["id"] == user_id
    assert login.actor["client_id"] == atlanta.client_id
    assert login.actor["address"]
    assert login.client_id == atlanta.client_id
    assert login.details["methode"] == "mot_de_passe+totp"
    assert len(login.details["session"]) == 16
    text = stored_text(runtime)
    assert PASSWORD not in text
    assert admin.secret not in text


def test_failed_console_logins_and_the_lock_are_in_the_trail(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> None:
    email = "lecteur@atlanta.example.ci"
    link = new_user(runtime, email=email, role="lecteur", client_id=atlanta.client_id)
    account = enrol(site, link, email, clock)
    wrong = "ce n'est pas la bonne phrase"

    assert log_in(site, account, clock, password=wrong).status_code == 401
    limit = runtime.settings.person_lock_after_failures
    for _ in range(limit - 1):
        log_in(site, account, clock, code="000000")
    assert log_in(site, account, clock).status_code == 429

    failures = entries_of(runtime, "console.connexion.echouee")
    user_id = _user_id(runtime, email)
    assert len(failures) == limit  # the refusal under the lock writes nothing
    assert {f.subject for f in failures} == {user_id}
    assert failures[0].details == {
        "motif": "mot_de_passe_ou_code_incorrect",
        "erreur": "connexion_refusee",
    }
    assert failures[-1].details["erreur"] == "compte_verrouille"
    [locked] = entries_of(runtime, "compte.verrouille")
    assert locked.subject == user_id
    assert entries_of(runtime, "console.connexion.reussie") == []
    assert wrong not in stored_text(runtime)


def test_a_console_logout_is_in_the_trail(
    site: TestClient, runtime: Runtime, admin: ConsoleAccount, atlanta: Provisioned
) -> None:
    page = site.get(f"/console/clients/{atlanta.client_id}/cles")

    answer = site.post("/console/deconnexion", data={"csrf": csrf_of(page)})

    assert answer.status_code == 303
    [login] = entries_of(runtime, "console.connexion.reussie")
    [logout] = entries_of(runtime, "console.deconnexion")
    assert entries_of(runtime, "deconnexion") == []
    assert logout.actor["id"] == login.actor["id"]
    assert logout.details["session"] == login.details["session"]


def test_a_console_user_created_and_enrolled_is_in_the_trail(
    site: TestClient, runtime: Runtime, clock: FrozenClock, atlanta: Provisioned
) -> None:
    email = "lecteur@atlanta.example.ci"
    link = new_user(runtime, email=email, role="lecteur", client_id=atlanta.client_id)
    enrol(site, link, email, clock)

    user_id = _user_id(runtime, email)
    [created] = entries_of(runtime, "console.utilisateur_cree")
    [active] = entries_of(runtime, "console.compte_active")
    assert created.subject == active.subject == user_id
    assert created.actor["kind"] == "operateur"
    assert created.details == {"role": "lecteur"}
    assert created.client_id == atlanta.client_id
    assert active.actor["id"] == user_id
    assert active.actor["address"]
    assert active.client_id == atlanta.client_id
    assert link.rsplit("/", 1)[-1] not in stored_text(runtime)


def test_a_console_user_reset_at_the_command_line_is_in_the_trail(
    runtime: Runtime, admin: ConsoleAccount, atlanta: Provisioned
) -> None:
    with runtime.db.transaction() as session:
        reset_user(session, runtime.settings, admin.email, by=Actor.operator("awa"))

    [reset] = entries_of(runtime, "compte.reinitialise")
    assert reset.subject == _user_id(runtime, admin.email)
    assert reset.actor == {"kind": "operateur", "id": "awa"}
    assert reset.details == {"compte": "console", "sessions_fermees": 1}
    assert reset.client_id == atlanta.client_id


def test_an_unknown_console_login_writes_no_entry_of_its_own(
    site: TestClient, runtime: Runtime
) -> None:
    page = site.get("/console/connexion")
    answer = site.post(
        "/console/connexion",
        data={
            "csrf": csrf_of(page),
            "email": "alice@example.frCorrecthorsebattery",
            "mot_de_passe": PASSWORD,
            "code": "123456",
        },
    )

    assert answer.status_code == 401
    assert entries_of(runtime, "console.connexion.echouee") == []
    assert "Correcthorsebattery" not in stored_text(runtime)


# -- what a client's administrator changes ---------------------------------------


def test_a_key_rotated_and_revoked_in_the_console_names_the_user(
    site: TestClient, runtime: Runtime, admin: ConsoleAccount, atlanta: Provisioned
) -> None:
    page = site.get(f"/console/clients/{atlanta.client_id}/cles")
    rotated = site.post(
        f"/console/clients/{atlanta.client_id}/cles/api/renouveler",
        data={"csrf": csrf_of(page), "delai_grace_heures": "24"},
    )
    assert rotated.status_code == 200, rotated.text
    found = re.search(r'id="secret-unique">(psk_[^<]+)<', rotated.text)
    assert found
    secret = found.group(1)
    revoked = site.post(
        f"/console/clients/{atlanta.client_id}/cles/api/{atlanta.api_key_id}/revoquer",
        data={"csrf": csrf_of(page)},
    )
    assert revoked.status_code == 303

    user_id = _user_id(runtime, admin.email)
    [renewed] = entries_of(runtime, "cle_api.renouvelee")
    [gone] = entries_of(runtime, "cle_api.revoquee")
    assert renewed.objects["precedente"] == atlanta.api_key_id
    assert gone.subject == atlanta.api_key_id
    for entry in (renewed, gone):
        assert entry.actor["kind"] == "utilisateur_console"
        assert entry.actor["id"] == user_id
        assert entry.actor["address"]
        assert entry.client_id == atlanta.client_id
    text = stored_text(runtime)
    assert secret not in text
    assert atlanta.api_key not in text


def test_allowlist_and_certificate_changes_in_the_console(
    site: TestClient, runtime: Runtime, admin: ConsoleAccount, atlanta: Provisioned
) -> None:
    fingerprint = issued_certificate(runtime, atlanta.client_id)
    page = site.get(f"/console/clients/{atlanta.client_id}/acces")
    listed = site.post(
        f"/console/clients/{atlanta.client_id}/liste-ip",
        data={"csrf": csrf_of(page), "reseaux": "196.47.10.0/24\n10.1.2.3"},
    )
    revoked_page = site.post(
        f"/console/clients/{atlanta.client_id}/certificats/{fingerprint}/revoquer",
        data={"csrf": csrf_of(page)},
    )

    assert listed.status_code == 303, listed.text
    assert revoked_page.status_code == 303, revoked_page.text

    [allowlist] = entries_of(runtime, "adresses_ip.modifiees")
    [revoked] = entries_of(runtime, "certificat_client.revoque")
    assert allowlist.details == {
        "avant": [],
        "apres": ["10.1.2.3/32", "196.47.10.0/24"],
    }
    assert revoked.subject == fingerprint
    user_id = _user_id(runtime, admin.email)
    for entry in (allowlist, revoked):
        assert entry.actor["kind"] == "utilisateur_console"
        assert entry.actor["id"] == user_id


# -- what the operator changes ---------------------------------------------------


def test_a_step_moved_in_the_console_keeps_before_and_after(
    site: TestClient, runtime: Runtime, operator: ConsoleAccount
) -> None:
    client_id = new_gamma(runtime)
    url = f"/console/clients/{client_id}/cycle"
    moved = site.post(
        url,
        data={
            "csrf": csrf_of(site.get(url)),
            "etape": "convention",
            "convention": json.dumps(AGREEMENT),
        },
    )
    assert moved.status_code == 303, moved.text

    [step] = entries_of(runtime, "client.etat_modifie")
    assert step.subject == client_id
    assert step.details["avant"] == "cadrage"
    assert step.details["apres"] == "convention"
    assert step.details["convention"]["formule"] == "forfait"
    assert step.actor["id"] == _user_id(runtime, operator.email)
    assert step.actor.get("client_id") is None


def test_an_incident_opened_updated_and_closed_in_the_console(
    site: TestClient, runtime: Runtime, operator: ConsoleAccount, atlanta: Provisioned
) -> None:
    page = site.get("/console/incidents")
    site.post(
        "/console/incidents",
        data={
            "csrf": csrf_of(page),
            "titre": "Horodatage indisponible",
            "impact": "Les signatures B-T échouent",
            "clients": atlanta.client_id,
        },
    )
    with runtime.db.sessions() as session:
        incident = session.scalars(select(Incident)).one()
    site.post(
        f"/console/incidents/{incident.id}/mise-a-jour",
        data={"csrf": csrf_of(page), "message": "Cause trouvée"},
    )
    site.post(
        f"/console/incidents/{incident.id}/cloture",
        data={"csrf": csrf_of(page), "message": ""},
    )

    steps = [e for e in entries_of(runtime) if e.action.startswith("incident.")]
    assert [e.action for e in steps] == [
        "incident.ouvert",
        "incident.mis_a_jour",
        "incident.clos",
    ]
    assert {e.subject for e in steps} == {incident.id}
    assert steps[0].details["clients"] == [atlanta.client_id]
    assert {tuple(e.objects["clients"]) for e in steps} == {(atlanta.client_id,)}
    with runtime.db.sessions() as session:
        about_client = entries_about(session, [atlanta.client_id])
    assert [e.seq for e in steps] == [
        e.seq for e in about_client if e.action.startswith("incident.")
    ]
    assert steps[1].details["message"] == "Cause trouvée"
    assert {e.actor["id"] for e in steps} == {_user_id(runtime, operator.email)}
