"""The client's delegation API: drafting, reading, downloading, withdrawing;
and what the person is sent."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sceau.delegations.errors import DelegationNotPending
from sceau.delegations.models import Delegation
from sceau.events.models import Event
from sceau.runtime import Runtime
from tests.conftest import Provisioned, provision
from tests.delegations.conftest import (
    DELEGATIONS,
    DIRECTOR,
    SIGNED_AT,
    draft,
    sign_as_director,
    signed_delegation,
)
from tests.people.conftest import START, Registered, deliver_mail, register
from tests.people.test_enrolment import enrol
from tests.support.events import Mailbox
from tests.support.validators import nss_db, pdfsig, signature_entries


def _events(runtime: Runtime, ref: str, type: str) -> list[dict[str, object]]:
    with runtime.db.sessions() as session:
        rows = session.scalars(
            select(Event).where(Event.subject == ref, Event.type == type)
        ).all()
    return [json.loads(row.payload)["data"] for row in rows]


def test_a_drafted_delegation_waits_for_its_person_and_states_its_envelope(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    director: Registered,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    answer = draft(api, atlanta, director.code_09, quota_journalier=200)

    assert answer.status_code == 201, answer.text
    body = answer.json()
    ref = body["ref_delegation"]
    assert ref.startswith("DLG-20261204-") and len(ref) == 19
    assert body["statut"] == "a_signer"
    assert body["nom_delegant"] == DIRECTOR
    assert body["client"] == "Atlanta Assurances"
    assert body["enveloppe"] == {
        "types_acte": ["police_assurance"],
        "montant_max": 5_000_000,
        "montant_max_inclus": False,
        "jours": ["lundi", "mardi", "mercredi", "jeudi", "vendredi"],
        "heure_debut": "08:00",
        "heure_fin": "18:00",
        "fuseau_horaire": "Africa/Abidjan",
        "valide_du": "2026-12-01",
        "valide_au": "2027-11-30",
        "quota_journalier": 200,
    }
    assert any("strictement inférieur" in line for line in body["description"])
    assert body["ref_signature"] is None

    # The draft, as the person will read it, names the delegation and its limits.
    draft_pdf = api.get(f"{DELEGATIONS}/{ref}/document", headers=atlanta.headers)
    assert draft_pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "projet.pdf"
    path.write_bytes(draft_pdf.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ref in text and "Atlanta Assurances" in text

    [created] = _events(runtime, ref, "delegation.creee")
    assert created["statut"] == "a_signer" and created["code_09"] == director.code_09
    deliver_mail(runtime, START)
    [mail] = [m for m in mailbox.messages if "délégation" in m["Subject"]]
    assert mail["To"] == director.email
    mail_text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"https://sceau.example.ci/signer/delegations/{ref}" in mail_text
    assert "Atlanta Assurances" in mail_text


def test_the_signed_delegation_is_active_and_downloadable_and_pdfsig_trusts_it(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    director: Registered,
    tmp_path: Path,
) -> None:
    signed = signed_delegation(runtime, api, atlanta, director)

    read = api.get(f"{DELEGATIONS}/{signed.ref}", headers=atlanta.headers).json()
    pdf = api.get(f"{DELEGATIONS}/{signed.ref}/pdf", headers=atlanta.headers)

    assert read["statut"] == "active"
    assert read["ref_signature"].startswith("SIG-")
    path = tmp_path / "delegation.pdf"
    path.write_bytes(pdf.content)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output and "Certificate is Trusted." in output
    [entries] = signature_entries(pdf.content)
    assert entries["/Reason"] == (
        f"Délégation de signature {signed.ref} au système d'information de "
        "Atlanta Assurances"
    )
    [event] = _events(runtime, signed.ref, "delegation.signee")
    assert event["ref_signature"] == read["ref_signature"]


def test_an_unsigned_delegation_has_no_signed_pdf_and_can_be_withdrawn(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    ref = draft(api, atlanta, director.code_09).json()["ref_delegation"]

    missing = api.get(f"{DELEGATIONS}/{ref}/pdf", headers=atlanta.headers)
    withdrawn = api.post(f"{DELEGATIONS}/{ref}/annulation", headers=atlanta.headers)
    again = api.post(f"{DELEGATIONS}/{ref}/annulation", headers=atlanta.headers)

    assert missing.status_code == 409
    assert missing.json()["erreur"]["code"] == "delegation_non_signee"
    assert withdrawn.status_code == 200 and withdrawn.json()["statut"] == "annulee"
    assert again.status_code == 409
    assert again.json()["erreur"]["code"] == "delegation_deja_traitee"
    assert _events(runtime, ref, "delegation.annulee")


def test_a_withdrawn_delegation_can_no_longer_be_signed(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    secret, _ = enrol(runtime, director)
    ref = draft(api, atlanta, director.code_09).json()["ref_delegation"]
    api.post(f"{DELEGATIONS}/{ref}/annulation", headers=atlanta.headers)

    with pytest.raises(DelegationNotPending) as refused:
        sign_as_director(runtime, director, ref, secret, SIGNED_AT)

    assert refused.value.code == "delegation_deja_traitee"
    with runtime.db.sessions() as session:
        assert session.get_one(Delegation, ref).signature_ref is None


def test_drafting_refuses_what_cannot_be_a_delegation(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    director: Registered,
) -> None:
    notary = register(
        runtime, atlanta, name="Maître Yao", email="yao@notaires.example.ci"
    )
    refused = [
        ("delegant_non_habilite", draft(api, atlanta, notary.code_09)),
        ("delegant_non_habilite", draft(api, atlanta, atlanta.code_09)),
        (
            "type_acte_inconnu",
            draft(api, atlanta, director.code_09, types_acte=["pret_immobilier"]),
        ),
        (
            "enveloppe_invalide",
            draft(
                api, atlanta, director.code_09, heure_debut="18:00", heure_fin="08:00"
            ),
        ),
        ("champ_invalide", draft(api, atlanta, director.code_09, jours=[])),
        (
            "enveloppe_invalide",
            draft(api, atlanta, director.code_09, valide_au="9999-12-31"),
        ),
    ]
    past = draft(
        api, atlanta, director.code_09, valide_du="2026-01-01", valide_au="2026-06-30"
    )

    for code, answer in refused:
        assert answer.status_code == 422, (code, answer.text)
        assert answer.json()["erreur"]["code"] == code, (code, answer.text)
    assert past.status_code == 422
    assert "valide_au est déjà passé" in past.json()["erreur"]["message"]
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Delegation)) == 0


def test_a_client_sees_only_its_own_delegations(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    beta = provision(runtime, name="Bêta Assurances", label="Bêta", body="BETASYS")
    ref = draft(api, atlanta, director.code_09).json()["ref_delegation"]

    theirs = api.get(f"{DELEGATIONS}/{ref}", headers=beta.headers)
    listed = api.get(DELEGATIONS, headers=beta.headers)
    withdrawn = api.post(f"{DELEGATIONS}/{ref}/annulation", headers=beta.headers)
    other_person = draft(api, beta, director.code_09)
    mine = api.get(DELEGATIONS, headers=atlanta.headers, params={"statut": "a_signer"})

    assert theirs.status_code == 404
    assert theirs.json()["erreur"]["code"] == "delegation_inconnue"
    assert listed.json() == []
    assert withdrawn.status_code == 404
    assert other_person.json()["erreur"]["code"] == "identite_non_autorisee"
    assert [item["ref_delegation"] for item in mine.json()] == [ref]
    bad_filter = api.get(DELEGATIONS, headers=atlanta.headers, params={"statut": "x"})
    assert bad_filter.status_code == 422


def test_a_delegation_past_its_last_day_reads_as_expired(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    from datetime import UTC, datetime

    from tests.delegations.conftest import at

    signed = signed_delegation(runtime, api, atlanta, director, valide_au="2026-12-31")
    at(api, datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    last_second = api.get(f"{DELEGATIONS}/{signed.ref}", headers=atlanta.headers)
    at(api, datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC))
    next_day = api.get(f"{DELEGATIONS}/{signed.ref}", headers=atlanta.headers)

    assert last_second.json()["statut"] == "active"
    assert next_day.json()["statut"] == "expiree"
    assert next_day.json()["fin_le"] == "2027-01-01T00:00:00Z"
