"""What the audit trail keeps of people's accounts, as an auditor reads it:
enrolment, logins in the page (with the address, never the password or the
code), failures and their reason, the lock, logout, and registration at the
command line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from sceau.identities.codes import make_code
from sceau.people.login_rules import address_source, typed_code
from sceau.people.models import LoginFailure
from sceau.runtime import Runtime
from sceau.web.pages import SESSION_COOKIE
from tests.audit.conftest import entries_of, stored_text
from tests.conftest import Provisioned
from tests.people.conftest import Registered
from tests.people.test_enrolment import PASSWORD
from tests.test_cli import cli, run_json
from tests.web.conftest import (
    Account,
    FrozenClock,
    clock,
    csrf_of,
    enrolled,
    log_in,
    mailbox,
    notary,
    runtime,
    site,
)

__all__ = ["cli", "clock", "enrolled", "mailbox", "notary", "runtime", "site"]


def _peer_address(site: TestClient, runtime: Runtime) -> str:
    """The address the service sees for the test client, as its login-failure
    table records it."""
    page = site.get("/signer/connexion")
    site.post(
        "/signer/connexion",
        data={"csrf": csrf_of(page), "identifiant": "x", "mot_de_passe": "y"},
    )
    with runtime.db.sessions() as session:
        address = session.scalars(select(LoginFailure.address)).first()
    assert address is not None
    return address


# -- enrolment and login ---------------------------------------------------------


def test_enrolment_and_login_are_in_the_trail_without_any_secret(
    site: TestClient, runtime: Runtime, enrolled: Account, clock: FrozenClock
) -> None:
    clock.advance(seconds=30)
    code = enrolled.code_at(clock.now())
    answer = log_in(site, enrolled, clock, code=code)
    assert answer.status_code == 303, answer.text

    code_09 = enrolled.who.code_09
    [activated] = entries_of(runtime, "compte.active")
    assert activated.subject == code_09
    assert activated.actor["kind"] == "personne"
    assert activated.actor["id"] == code_09

    [login] = entries_of(runtime, "connexion.reussie")
    assert login.subject == code_09
    assert login.objects == {"identite": code_09}
    assert login.actor["person_id"] == enrolled.who.person_id
    assert login.actor["address"]
    assert login.details["methode"] == "mot_de_passe+totp"
    assert len(login.details["session"]) == 16
    assert login.at == clock.now()

    text = stored_text(runtime)
    assert PASSWORD not in text
    assert code not in text
    assert enrolled.secret not in text
    cookie = site.cookies.get(SESSION_COOKIE)
    assert cookie and cookie not in text


def test_the_address_recorded_is_the_one_the_service_saw(
    site: TestClient, runtime: Runtime, enrolled: Account, clock: FrozenClock
) -> None:
    address = _peer_address(site, runtime)
    assert log_in(site, enrolled, clock).status_code == 303

    [login] = entries_of(runtime, "connexion.reussie")
    assert login.actor["address"] == address


def test_a_recovery_code_login_says_so_and_keeps_no_code(
    site: TestClient, runtime: Runtime, enrolled: Account, clock: FrozenClock
) -> None:
    recovery = enrolled.recovery_codes[0]
    answer = log_in(site, enrolled, clock, code=recovery)
    assert answer.status_code == 303, answer.text

    [login] = entries_of(runtime, "connexion.reussie")
    assert login.details["methode"] == "mot_de_passe+code_de_secours"
    text = stored_text(runtime)
    assert recovery not in text
    assert recovery.replace("-", "") not in text


def test_a_wrong_password_leaves_a_failed_login_with_its_reason(
    site: TestClient, runtime: Runtime, enrolled: Account, clock: FrozenClock
) -> None:
    wrong = "pas le bon mot de passe du tout"
    answer = log_in(site, enrolled, clock, password=wrong)
    assert answer.status_code == 401

    [failed] = entries_of(runtime, "connexion.echouee")
    assert failed.subject == enrolled.who.code_09
    assert failed.actor["id"] == enrolled.who.code_09
    assert failed.actor["address"]
    assert failed.details == {
        "motif": "mot_de_passe_incorrect",
        "erreur": "connexion_refusee",
    }
    assert entries_of(runtime, "connexion.reussie") == []
    assert wrong not in stored_text(runtime)


def test_a_wrong_code_and_a_replayed_code_are_told_apart(
    site: TestClient, runtime: Runtime, enrolled: Account, clock: FrozenClock
) -> None:
    assert log_in(site, enrolled, clock, code="000000").status_code == 401
    # The enrolment's own code (the clock has not moved): its step is used up.
    replay = enrolled.code_at(clock.now())
    assert log_in(site, enrolled, clock, code=replay).status_code == 401

    reasons = [e.details["motif"] for e in entries_of(runtime, "connexion.echouee")]
    assert reasons == ["second_facteur_incorrect", "code_totp_deja_utilise"]


def test_the_failures_and_the_lock_they_set_are_in_the_trail(
    site: TestClient, runtime: Runtime, enrolled: Account, clock: FrozenClock
) -> None:
    limit = runtime.settings.person_lock_after_failures
    for _ in range(limit):
        log_in(site, enrolled, clock, code="000000")
    assert log_in(site, enrolled, clock).status_code == 429

    [locked] = entries_of(runtime, "compte.verrouille")
    assert locked.subject == enrolled.who.code_09
    assert locked.details["echecs"] == limit
    assert locked.actor["address"]
    failures = entries_of(runtime, "connexion.echouee")
    # The attempt refused while the lock holds is checked for nothing and
    # writes nothing: a flood of them must not flood the trail.
    assert len(failures) == limit
    assert {f.details["motif"] for f in failures} == {"second_facteur_incorrect"}
    assert failures[-1].details["erreur"] == "compte_verrouille"
    assert locked.seq == failures[-1].seq - 1  # one transaction, lock first
    assert entries_of(runtime, "connexion.reussie") == []


def _try_unknown(site: TestClient, identifier: str) -> int:
    page = site.get("/signer/connexion")
    answer = site.post(
        "/signer/connexion",
        data={
            "csrf": csrf_of(page),
            "identifiant": identifier,
            "mot_de_passe": PASSWORD,
            "code": "123456",
        },
    )
    return answer.status_code


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        (" 09-inconnue ", None),  # no valid check character
        (str(make_code("09", "INCONNUE")).lower(), str(make_code("09", "INCONNUE"))),
        ("inconnu@notaires.example.ci", None),
        ("alice@example.frCorrecthorsebattery", None),
        ("mon-mot-de-passe-2026", None),
    ],
)
def test_only_a_well_formed_09_code_is_kept_of_what_was_typed(
    typed: str, kept: str | None
) -> None:
    assert typed_code(typed) == kept


def test_an_unknown_login_writes_no_entry_of_its_own(
    site: TestClient, runtime: Runtime, enrolled: Account
) -> None:
    unknown_code = str(make_code("09", "INCONNUE"))
    typed = ["inconnu@notaires.example.ci", unknown_code, "mon-mot-de-passe-2026"]

    assert [_try_unknown(site, identifier) for identifier in typed] == [401] * 3

    assert entries_of(runtime, "connexion.echouee") == []
    assert entries_of(runtime, "connexions.inconnues") == []
    with runtime.db.sessions() as session:
        failures = session.scalars(select(LoginFailure)).all()
    assert len(failures) == 3  # kept for the address's limit, and pruned
    text = stored_text(runtime)
    assert "mon-mot-de-passe-2026" not in text
    assert "inconnu@notaires.example.ci" not in text


def test_a_flood_of_unknown_logins_is_summed_up_once_per_window(
    site: TestClient, runtime: Runtime, enrolled: Account, clock: FrozenClock
) -> None:
    address = _peer_address(site, runtime)  # the first failure of the window
    started = clock.now()
    limit = runtime.settings.person_address_failure_limit
    unknown_code = str(make_code("09", "INCONNUE"))

    answers = [_try_unknown(site, unknown_code) for _ in range(limit + 10)]

    assert answers == [401] * (limit - 1) + [429] * 11
    [summary] = entries_of(runtime, "connexions.inconnues")
    assert summary.actor == {"kind": "inconnu", "id": "inconnu", "address": address}
    assert summary.details == {
        "tentatives": limit,
        "depuis": started.isoformat().replace("+00:00", "Z"),
        "identifiant_saisi": unknown_code,
    }
    assert entries_of(runtime, "connexion.echouee") == []

    # A new window: the address may try again, and is summed up once more.
    clock.advance(minutes=runtime.settings.person_address_failure_window_minutes + 1)
    again = [_try_unknown(site, "x") for _ in range(limit + 10)]

    assert again.count(401) == limit
    assert len(entries_of(runtime, "connexions.inconnues")) == 2


def test_a_refusal_for_too_many_attempts_writes_nothing(
    site: TestClient, runtime: Runtime, enrolled: Account, clock: FrozenClock
) -> None:
    limit = runtime.settings.person_address_failure_limit
    for _ in range(limit):
        _try_unknown(site, "x")
    written = len(entries_of(runtime))

    assert log_in(site, enrolled, clock).status_code == 429
    assert _try_unknown(site, "x") == 429

    assert len(entries_of(runtime)) == written


def test_an_ipv6_address_counts_with_its_64() -> None:
    assert address_source("2001:db8:1:2::17") == "2001:db8:1:2::/64"
    assert address_source("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_source("::ffff:196.47.10.3") == "196.47.10.3"
    assert address_source("196.47.10.3") == "196.47.10.3"


def test_logout_names_the_session_the_login_opened(
    site: TestClient, runtime: Runtime, enrolled: Account, clock: FrozenClock
) -> None:
    assert log_in(site, enrolled, clock).status_code == 303
    home = site.get("/signer")

    answer = site.post("/signer/deconnexion", data={"csrf": csrf_of(home)})

    assert answer.status_code == 303
    [login] = entries_of(runtime, "connexion.reussie")
    [logout] = entries_of(runtime, "deconnexion")
    assert logout.subject == enrolled.who.code_09
    assert logout.details["session"] == login.details["session"]
    assert logout.seq > login.seq


# -- registration ----------------------------------------------------------------


def test_a_person_registered_at_the_command_line_is_in_the_trail(
    cli: CliRunner, runtime: Runtime, atlanta: Provisioned
) -> None:
    created = run_json(
        cli,
        "person",
        "create",
        "--name",
        "Maître Yao Kouassi",
        "--email",
        "y.kouassi@huissiers.example.ci",
        "--profession",
        "huissier",
        "--client",
        atlanta.client_id,
    )
    assert isinstance(created, dict)
    code_09 = created["code_09"]

    [issued] = [
        e for e in entries_of(runtime, "identite.emise") if e.subject == code_09
    ]
    [person] = entries_of(runtime, "personne.creee")
    assert person.subject == code_09
    assert person.client_id == atlanta.client_id
    assert person.actor["kind"] == "operateur"
    assert person.details == {"profession": "huissier"}
    assert issued.seq < person.seq
    assert len(issued.details["empreinte_certificat"]) == 64


def test_a_person_reset_at_the_command_line_is_in_the_trail(
    cli: CliRunner, runtime: Runtime, enrolled: Account
) -> None:
    run_json(cli, "person", "reset", "--code", enrolled.who.code_09)

    [reset] = entries_of(runtime, "compte.reinitialise")
    assert reset.subject == enrolled.who.code_09
    assert reset.objects == {
        "identite": enrolled.who.code_09,
        "personne": enrolled.who.person_id,
    }
    assert reset.actor["kind"] == "operateur"
    assert reset.details["compte"] == "signataire"


def test_the_notary_fixture_registration_is_attributed(
    runtime: Runtime, notary: Registered
) -> None:
    [person] = entries_of(runtime, "personne.creee")
    assert person.subject == notary.code_09
    assert person.objects["personne"] == notary.person_id
