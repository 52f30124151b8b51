"""A person's act, told by its evidence file: prepared, read, the login, the
signature, in that order with their times; the act's file for its client,
not another; the signature's file for the person who signed, from their
signature page, and for no other person."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sceau.audit import actions
from sceau.db import utcnow
from sceau.evidence import service
from sceau.runtime import Runtime
from tests.acts.conftest import ACTS, beta
from tests.conftest import Provisioned
from tests.people.conftest import Registered, mailbox, notary, register, runtime
from tests.support.pdfs import text_of
from tests.support.validators import nss_db, pdfsig
from tests.web.conftest import (
    Account,
    FrozenClock,
    browser,
    enrol_in_page,
    enrolled,
    log_in,
    logged_in,
    site,
)
from tests.web.test_acts_pages import make_act, sign_act_in_page

__all__ = [
    "beta",
    "enrolled",
    "logged_in",
    "mailbox",
    "notary",
    "runtime",
    "site",
]


@pytest.fixture
def clock() -> FrozenClock:
    """The pages' clock a little behind the real one: the signature's own
    time (the signing pipeline's clock) then follows the steps before it, as
    in production. Mid-step of a 30-second TOTP window."""
    start = utcnow() - timedelta(minutes=10)
    return FrozenClock(start.replace(second=15, microsecond=0))


HUMAN_STORY = [
    actions.ACTE_CREE,
    actions.CONNEXION_REUSSIE,
    actions.ACTE_CONSULTE,
    actions.ACTE_SIGNE,
    actions.SIGNATURE_SIGNEE,
]


def signed_act(
    site: TestClient,
    runtime: Runtime,
    client: Provisioned,
    person: Registered,
    account: Account,
    clock: FrozenClock,
) -> tuple[str, str]:
    """An act prepared, read and signed in the page: its ref and signature's."""
    ref = make_act(runtime, client, person, clock)
    clock.advance(seconds=30)
    answer = sign_act_in_page(site, ref, account.code_at(clock.now()))
    assert answer.status_code == 303, answer.text
    read = site.get(f"{ACTS}/{ref}", headers=client.headers).json()
    return ref, read["ref_signature"]


def test_a_signed_acts_story_is_told_in_order(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    enrolled: Account,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    ref = make_act(runtime, atlanta, notary, clock)
    assert log_in(site, enrolled, clock).status_code == 303
    clock.advance(seconds=30)
    answer = sign_act_in_page(site, ref, enrolled.code_at(clock.now()))
    assert answer.status_code == 303, answer.text
    signature = site.get(f"{ACTS}/{ref}", headers=atlanta.headers).json()[
        "ref_signature"
    ]

    data = site.get(f"{ACTS}/{ref}/dossier-de-preuve.json", headers=atlanta.headers)

    assert data.status_code == 200, data.text
    story = data.json()
    steps = story["etapes"]
    assert [s["action"] for s in steps if s["action"] in HUMAN_STORY] == HUMAN_STORY
    assert [s["ordre"] for s in steps] == list(range(1, len(steps) + 1))
    person = story["personne"]
    assert person["code_09"] == notary.code_09
    assert person["connexions"][0]["methode"] == "mot_de_passe+totp"
    assert (
        person["consultations"][0]["sha256_affiche"] == story["acte"]["sha256_source"]
    )
    assert person["decision"]["action"] == actions.ACTE_SIGNE
    assert person["decision"]["totp_verifie_le"]
    assert story["acte"]["statut"] == "signe"
    assert story["signature"]["reference"] == signature
    assert story["demande"]["acteur"] == "client"
    assert story["demande"]["client"] == atlanta.client_id

    pdf = site.get(f"{ACTS}/{ref}/dossier-de-preuve", headers=atlanta.headers)
    assert pdf.status_code == 200, pdf.text
    path = tmp_path / "dossier.pdf"
    path.write_bytes(pdf.content)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output
    text = text_of(pdf.content, tmp_path, "texte.pdf")
    for label in (
        "Acte préparé par le client",
        "Connexion de la personne",
        "Acte consulté par la personne",
        "Acte signé par la personne",
        "Signature apposée",
    ):
        assert label in text
    assert text.index("(acte.cree)") < text.index("(acte.signe)")
    assert "mot de passe et code TOTP" in text


def test_an_act_gets_a_new_file_once_signed(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Signed 30 seconds later: within the minimum interval between files.
    monkeypatch.setattr(service, "MIN_INTERVAL", timedelta(0))
    ref = make_act(runtime, atlanta, notary, clock)
    url = f"{ACTS}/{ref}/dossier-de-preuve"
    pending = site.get(url, headers=atlanta.headers)
    assert pending.status_code == 200, pending.text
    assert site.get(url, headers=atlanta.headers).content == pending.content
    assert site.get(f"{url}.json", headers=atlanta.headers).json()["signature"] is None

    clock.advance(seconds=30)
    assert (
        sign_act_in_page(site, ref, logged_in.code_at(clock.now())).status_code == 303
    )
    signed = site.get(url, headers=atlanta.headers)

    assert signed.status_code == 200
    assert (
        signed.headers["X-Dossier-De-Preuve"] != pending.headers["X-Dossier-De-Preuve"]
    )


def test_another_client_cannot_read_the_acts_file(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    beta: Provisioned,
    notary: Registered,
    clock: FrozenClock,
) -> None:
    ref = make_act(runtime, atlanta, notary, clock)

    for suffix in ("", ".json"):
        answer = site.get(
            f"{ACTS}/{ref}/dossier-de-preuve{suffix}", headers=beta.headers
        )
        assert answer.status_code == 404
        assert answer.json()["erreur"]["code"] == "acte_inconnu"


def test_the_person_downloads_their_own_file_and_not_anothers(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    _, signature = signed_act(site, runtime, atlanta, notary, logged_in, clock)

    page = site.get(f"/signer/signatures/{signature}")
    assert "Télécharger le dossier de preuve" in page.text
    assert f'href="/signer/signatures/{signature}/dossier-de-preuve"' in page.text
    own = site.get(f"/signer/signatures/{signature}/dossier-de-preuve")
    assert own.status_code == 200, own.text
    assert own.headers["content-type"] == "application/pdf"
    assert notary.code_09 in text_of(own.content, tmp_path)
    own_json = site.get(f"/signer/signatures/{signature}/dossier-de-preuve.json")
    assert own_json.json()["objet"]["reference"] == signature

    with browser(runtime, clock) as other:
        colleague = enrol_in_page(
            other, register(runtime, atlanta, email="b.traore@example.ci"), clock
        )
        assert log_in(other, colleague, clock).status_code == 303
        answers = [
            other.get(f"/signer/signatures/{signature}/dossier-de-preuve"),
            other.get(f"/signer/signatures/{signature}/dossier-de-preuve.json"),
        ]

    for answer in answers:
        assert answer.status_code == 404
        assert "Aucune de vos signatures ne porte cette référence." in answer.text
    with browser(runtime, clock) as anonymous:
        logged_out = anonymous.get(f"/signer/signatures/{signature}/dossier-de-preuve")
    assert logged_out.status_code == 303
