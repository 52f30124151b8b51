"""Signing under a delegation through ``POST /signer``: inside the envelope the
person's key signs and the signature names the delegation; outside it nothing
is signed, the client hears why, and the person is told."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sceau.delegations.errors import EnvelopeCrossed
from sceau.delegations.models import DelegationDailyUse, DelegationRefusal
from sceau.delegations.service import find_delegation, revoke_delegation, take_use
from sceau.events.models import Event
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from tests.conftest import Provisioned, sign_body
from tests.delegations.conftest import (
    DELEGATIONS,
    DIRECTOR,
    SATURDAY_10H,
    SIGN,
    TUESDAY_10H,
    at,
    delegated_body,
    signed_delegation,
)
from tests.people.conftest import Registered, deliver_mail
from tests.support.events import Mailbox
from tests.support.pdfs import one_page_pdf
from tests.support.validators import nss_db, pdfsig, signature_entries


def _signatures(runtime: Runtime) -> list[SignatureRecord]:
    with runtime.db.sessions() as session:
        return list(
            session.scalars(select(SignatureRecord).order_by(SignatureRecord.ref))
        )


def _refusal_events(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.db.sessions() as session:
        rows = session.scalars(
            select(Event).where(Event.type == "delegation.refus").order_by(Event.seq)
        ).all()
    return [json.loads(row.payload)["data"] for row in rows]


def test_inside_the_envelope_the_persons_key_signs_and_names_the_delegation(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    director: Registered,
    tmp_path: Path,
) -> None:
    signed = signed_delegation(runtime, api, atlanta, director)
    at(api, TUESDAY_10H)

    answer = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["statut"] == "signe"
    assert body["mode"] == "deleguee"
    assert body["ref_delegation"] == signed.ref
    pdf = base64.b64decode(body["pdf_signe_b64"])
    path = tmp_path / "police.pdf"
    path.write_bytes(pdf)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output and "Certificate is Trusted." in output
    assert f"Signer Certificate Common Name: {DIRECTOR}" in output
    [entries] = signature_entries(pdf)
    assert entries["/Reason"] == (
        f"Police habitation n° 2026-118 — signé sous la délégation {signed.ref}"
    )
    assert entries["/App/Delegation"] == signed.ref
    assert entries["/App/Name"] == "/PixelSceau"

    record = api.get(
        f"/api/v1/sceau/b2b/signatures/{body['ref_signature']}", headers=atlanta.headers
    ).json()
    assert record["mode"] == "deleguee"
    assert record["code_09"] == director.code_09
    assert record["ref_delegation"] == signed.ref
    assert record["type_acte"] == "police_assurance"
    assert record["montant"] == 1_250_000

    with runtime.db.sessions() as session:
        [use] = session.scalars(select(DelegationDailyUse)).all()
    assert (use.delegation_ref, str(use.day), use.count) == (
        signed.ref,
        "2026-12-08",
        1,
    )


@pytest.mark.parametrize(
    ("moment", "overrides", "limit"),
    [
        (TUESDAY_10H, {"montant": 5_000_000}, "montant"),
        (TUESDAY_10H, {"type_acte": "attestation"}, "type_acte"),
        (SATURDAY_10H, {}, "jour"),
        (datetime(2026, 12, 8, 18, 0, 0, tzinfo=UTC), {}, "heure"),
        (datetime(2026, 12, 8, 7, 59, 59, tzinfo=UTC), {}, "heure"),
        (datetime(2027, 12, 1, 10, 0, tzinfo=UTC), {}, "validite"),
    ],
)
def test_outside_the_envelope_nothing_is_signed_and_the_limit_is_named(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    director: Registered,
    moment: datetime,
    overrides: dict[str, Any],
    limit: str,
) -> None:
    signed = signed_delegation(runtime, api, atlanta, director)
    before = len(_signatures(runtime))
    at(api, moment)

    answer = api.post(
        SIGN, json=delegated_body(director, **overrides), headers=atlanta.headers
    )

    assert answer.status_code == 403, answer.text
    error = answer.json()["erreur"]
    assert error["code"] == "hors_enveloppe"
    assert error["limite"] == limit
    assert error["ref_delegation"] == signed.ref
    assert error["message"]
    assert len(_signatures(runtime)) == before
    [event] = _refusal_events(runtime)
    assert event["limite"] == limit and event["ref_delegation"] == signed.ref
    assert event["code_09"] == director.code_09


def test_the_last_second_of_the_hours_is_inside_and_the_next_is_outside(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    signed_delegation(runtime, api, atlanta, director)

    at(api, datetime(2026, 12, 8, 17, 59, 59, tzinfo=UTC))
    last = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)
    at(api, datetime(2026, 12, 8, 18, 0, 0, tzinfo=UTC))
    after = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)
    at(api, datetime(2026, 12, 8, 10, 0, tzinfo=UTC))
    just_under = api.post(
        SIGN, json=delegated_body(director, montant=4_999_999), headers=atlanta.headers
    )

    assert last.status_code == 200, last.text
    assert after.status_code == 403
    assert just_under.status_code == 200, just_under.text


def test_a_person_without_an_active_delegation_is_refused_and_told_by_mail(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    director: Registered,
    mailbox: Mailbox,
) -> None:
    at(api, TUESDAY_10H)

    first = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)
    second = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)

    for answer in (first, second):
        assert answer.status_code == 403
        error = answer.json()["erreur"]
        assert error["code"] == "hors_enveloppe"
        assert error["limite"] == "aucune_delegation"
        assert error["ref_delegation"] is None
    assert _signatures(runtime) == []
    assert len(_refusal_events(runtime)) == 2  # the client hears of each one
    deliver_mail(runtime, TUESDAY_10H)
    mails = [m for m in mailbox.messages if "refusée" in m["Subject"]]
    assert len(mails) == 1  # the person once within the hour
    assert mails[0]["To"] == director.email
    text = mails[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Atlanta Assurances" in text and "police_assurance" in text
    assert "1 250 000 FCFA" in text.replace("\u00a0", " ")
    with runtime.db.sessions() as session:
        notified = session.scalars(
            select(DelegationRefusal.person_notified).order_by(DelegationRefusal.id)
        ).all()
    assert notified == [True, False]


def test_a_revoked_delegation_refuses_the_next_request_at_once(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    signed = signed_delegation(runtime, api, atlanta, director)
    at(api, TUESDAY_10H)
    inside = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)

    with runtime.db.transaction() as session:
        revoke_delegation(
            session, person_id=director.person_id, ref=signed.ref, now=TUESDAY_10H
        )
    refused = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)
    read = api.get(f"{DELEGATIONS}/{signed.ref}", headers=atlanta.headers).json()

    assert inside.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["erreur"]["limite"] == "aucune_delegation"
    assert read["statut"] == "revoquee"
    assert read["fin_le"] == "2026-12-08T10:00:00Z"


def test_delegated_signing_needs_the_kind_and_amount_and_the_persons_name(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    signed_delegation(runtime, api, atlanta, director)
    at(api, TUESDAY_10H)
    body = delegated_body(director)
    del body["montant"]

    missing = api.post(SIGN, json=body, headers=atlanta.headers)
    wrong_name = api.post(
        SIGN,
        json=delegated_body(director, nom_signataire="Quelqu'un d'autre"),
        headers=atlanta.headers,
    )
    negative = api.post(
        SIGN, json=delegated_body(director, montant=-1), headers=atlanta.headers
    )
    system = api.post(
        SIGN, json=sign_body(atlanta, one_page_pdf()), headers=atlanta.headers
    )

    assert missing.status_code == 422
    assert missing.json()["erreur"]["code"] == "champ_invalide"
    assert "type_acte et montant" in missing.json()["erreur"]["message"]
    assert wrong_name.status_code == 422
    assert wrong_name.json()["erreur"]["code"] == "nom_signataire_incorrect"
    assert negative.status_code == 422
    assert system.status_code == 200
    assert "mode" not in system.json() and "ref_delegation" not in system.json()


def test_an_idempotent_replay_is_counted_once(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    signed_delegation(runtime, api, atlanta, director, quota_journalier=1)
    at(api, TUESDAY_10H)
    headers = atlanta.headers | {"Idempotency-Key": "police-2026-118"}
    body = delegated_body(director)

    first = api.post(SIGN, json=body, headers=headers)
    replay = api.post(SIGN, json=body, headers=headers)
    another = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)

    assert first.status_code == 200
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["ref_signature"] == first.json()["ref_signature"]
    assert another.status_code == 403
    assert another.json()["erreur"]["limite"] == "quota_journalier"


def test_the_daily_count_starts_again_at_the_delegations_local_midnight(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    signed_delegation(
        runtime,
        api,
        atlanta,
        director,
        quota_journalier=1,
        fuseau_horaire="Europe/Paris",
        heure_debut="00:00",
        heure_fin="24:00",
    )
    # 22:59:59 UTC is Monday 23:59:59 in Paris; 23:00:00 UTC is Tuesday there,
    # while it is still Monday in Abidjan.
    monday_late = datetime(2026, 12, 7, 22, 59, 59, tzinfo=UTC)
    at(api, monday_late)
    monday = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)
    at(api, monday_late + timedelta(seconds=1))
    tuesday = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)
    at(api, monday_late + timedelta(seconds=2))
    tuesday_again = api.post(
        SIGN, json=delegated_body(director), headers=atlanta.headers
    )

    assert monday.status_code == 200, monday.text
    assert tuesday.status_code == 200, tuesday.text
    assert tuesday_again.status_code == 403
    assert tuesday_again.json()["erreur"]["limite"] == "quota_journalier"


def test_two_requests_racing_for_the_last_signature_of_the_day_one_wins(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    signed = signed_delegation(runtime, api, atlanta, director, quota_journalier=2)
    at(api, TUESDAY_10H)
    assert (
        api.post(
            SIGN, json=delegated_body(director), headers=atlanta.headers
        ).status_code
        == 200
    )
    barrier = threading.Barrier(4)
    answers: list[int] = []

    def race() -> None:
        barrier.wait()
        answer = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)
        answers.append(answer.status_code)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [200, 403, 403, 403]
    with runtime.db.sessions() as session:
        under_delegation = session.scalar(
            select(func.count())
            .select_from(SignatureRecord)
            .where(SignatureRecord.delegation_ref == signed.ref)
        )
        use = session.get_one(DelegationDailyUse, (signed.ref, TUESDAY_10H.date()))
    assert under_delegation == 2
    assert use.count == 2


def test_public_verification_names_the_delegation_a_signature_was_made_under(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    signed = signed_delegation(runtime, api, atlanta, director)
    at(api, TUESDAY_10H)
    answer = api.post(SIGN, json=delegated_body(director), headers=atlanta.headers)
    pdf = base64.b64decode(answer.json()["pdf_signe_b64"])
    ref = answer.json()["ref_signature"]

    report = api.post("/api/v1/sceau/verifier", files={"fichier": ("p.pdf", pdf)})
    recorded = api.get(f"/api/v1/sceau/verifier/{ref}")
    page = api.get("/verifier-signature", params={"ref": ref})

    [item] = report.json()["signatures"]
    assert item["mode"] == "deleguee"
    assert item["ref_delegation"] == signed.ref
    assert item["code_09"] == director.code_09
    assert recorded.json()["ref_delegation"] == signed.ref
    assert f"(délégation {signed.ref})" in page.text


def test_a_revocation_committed_during_a_signature_stops_it(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    """The envelope was checked, then the person revoked before the signature
    was stored: the storing transaction sees the revocation."""
    signed = signed_delegation(runtime, api, atlanta, director)
    with runtime.db.sessions() as session:
        found, _ = find_delegation(
            session,
            client_id=atlanta.client_id,
            person_id=director.person_id,
            act_type="police_assurance",
            amount=10,
            at=TUESDAY_10H,
        )
    with runtime.db.transaction() as session:
        revoke_delegation(
            session, person_id=director.person_id, ref=signed.ref, now=TUESDAY_10H
        )

    with pytest.raises(EnvelopeCrossed) as refused, runtime.db.transaction() as session:
        take_use(session, found.ref, TUESDAY_10H)

    assert refused.value.crossing.limit == "validite"
    assert refused.value.delegation_ref == signed.ref
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DelegationDailyUse)) == 0


def test_a_declared_kind_is_one_of_the_catalogues_in_every_mode(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, director: Registered
) -> None:
    signed_delegation(runtime, api, atlanta, director)
    at(api, TUESDAY_10H)
    pdf = one_page_pdf()
    act = {
        "code_09": director.code_09,
        "motif": "Police",
        "pdf_b64": base64.b64encode(pdf).decode(),
    }

    answers = {
        "système, NUL": api.post(
            SIGN,
            json=sign_body(atlanta, pdf, type_acte="a\x00b"),
            headers=atlanta.headers,
        ),
        "déléguée, NUL": api.post(
            SIGN,
            json=delegated_body(director, type_acte="a\x00b"),
            headers=atlanta.headers,
        ),
        "acte, NUL": api.post(
            "/api/v1/sceau/b2b/actes",
            json=act | {"type_acte": "a\x00b"},
            headers=atlanta.headers,
        ),
        "système, majuscules": api.post(
            SIGN,
            json=sign_body(atlanta, pdf, type_acte="Police"),
            headers=atlanta.headers,
        ),
    }
    unknown = api.post(
        SIGN,
        json=sign_body(atlanta, pdf, type_acte="pret_auto"),
        headers=atlanta.headers,
    )

    for name, answer in answers.items():
        assert answer.status_code == 422, (name, answer.text)
        assert answer.json()["erreur"]["code"] == "champ_invalide", name
    assert unknown.status_code == 422
    assert unknown.json()["erreur"]["code"] == "type_acte_inconnu"
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DelegationRefusal)) == 0
        under = session.scalar(
            select(func.count())
            .select_from(SignatureRecord)
            .where(SignatureRecord.delegation_ref.is_not(None))
        )
    assert under == 0
