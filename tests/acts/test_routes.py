"""The acts API: creation with its e-mail and event, the errors a client can
meet, reading, listing, cancelling, and one client never seeing another's."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sceau.acts.models import Act, ActDocument
from sceau.db import utcnow
from sceau.events.models import CHANNEL_WEBHOOK, Delivery
from sceau.runtime import Runtime
from tests.acts.conftest import (
    ACTS,
    REASON,
    act_body,
    events_of,
    post_act,
    sha256_of,
)
from tests.conftest import Provisioned
from tests.people.conftest import START, Registered, deliver_mail
from tests.support.events import Mailbox
from tests.support.pdfs import encrypted_pdf, one_page_pdf


def test_create_act_answers_201_mails_the_person_and_tells_the_client(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    notary: Registered,
    mailbox: Mailbox,
) -> None:
    pdf = one_page_pdf()
    answer = post_act(
        api, atlanta, notary.code_09, pdf=pdf, callback_url="http://127.0.0.1:9/cb"
    )

    assert answer.status_code == 201, answer.text
    act = answer.json()
    ref = act["ref_acte"]
    assert ref.startswith(f"ACT-{utcnow():%Y%m%d}-") and len(ref) == 19
    assert act["statut"] == "en_attente"
    assert act["sha256"] == sha256_of(pdf)
    assert act["code_09"] == notary.code_09
    assert act["nom_signataire"] == "Maître Aminata Koné"
    assert act["niveau"] == "B-T"
    assert "lien" not in act and "ref_signature" not in act
    expires = act["expire_le"]
    assert abs(
        (_parse(expires) - utcnow()) - timedelta(days=runtime.settings.act_default_days)
    ) < timedelta(minutes=1)

    [created] = events_of(runtime, ref, "acte.cree")
    data = json.loads(created.payload)["data"]
    assert data["ref_acte"] == ref and data["statut"] == "en_attente"
    assert "lien" not in data
    with runtime.db.sessions() as session:
        webhooks = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.event_seq == created.seq, Delivery.channel == CHANNEL_WEBHOOK
            )
        )
    assert webhooks == 1

    deliver_mail(runtime, max(START, utcnow()))
    [mail] = [m for m in mailbox.messages if "attend votre signature" in m["Subject"]]
    assert mail["To"] == notary.email
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Atlanta Assurances" in text
    assert REASON in text
    assert f"https://sceau.example.ci/signer/actes/{ref}" in text
    [person_notice] = events_of(runtime, ref, "personne.acte_a_signer")
    with runtime.db.sessions() as session:
        to_webhooks = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.event_seq == person_notice.seq,
                Delivery.channel == CHANNEL_WEBHOOK,
            )
        )
    assert to_webhooks == 0


def test_create_act_for_a_person_not_yet_enrolled_is_allowed(
    api: TestClient, atlanta: Provisioned, notary: Registered
) -> None:
    assert post_act(api, atlanta, notary.code_09).status_code == 201


def test_create_act_takes_expire_le_with_its_offset(
    api: TestClient, atlanta: Provisioned, notary: Registered
) -> None:
    wanted = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    local = wanted.astimezone(timezone(timedelta(hours=1))).isoformat()

    answer = post_act(api, atlanta, notary.code_09, expire_le=local)

    assert answer.status_code == 201, answer.text
    assert _parse(answer.json()["expire_le"]) == wanted


def test_create_act_refuses_bad_requests_with_stable_codes(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    notary: Registered,
    beta_person: Registered,
) -> None:
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    far = (utcnow() + timedelta(days=91)).isoformat()
    cases = [
        (act_body("09-PASUNCODE"), 422, "code_09_invalide"),
        (act_body(atlanta.code_09), 422, "identite_systeme"),
        (act_body(beta_person.code_09), 403, "identite_non_autorisee"),
        (act_body(notary.code_09, expire_le=past), 422, "expire_le_invalide"),
        (act_body(notary.code_09, expire_le=far), 422, "expire_le_invalide"),
        (
            act_body(notary.code_09, expire_le="2026-12-24T18:00:00"),
            422,
            "champ_invalide",
        ),
        (act_body(notary.code_09, pdf=b"hello, not a PDF"), 422, "pdf_invalide"),
        (act_body(notary.code_09, pdf_b64="pas du base64!"), 400, "base64_invalide"),
        (act_body(notary.code_09, motif=""), 422, "champ_invalide"),
        (act_body(notary.code_09, motif="a\x00b"), 422, "champ_invalide"),
        (act_body(notary.code_09, niveau="B-X"), 422, "champ_invalide"),
        (act_body(notary.code_09, lien="x"), 422, "champ_invalide"),
        (
            act_body(notary.code_09, callback_url="http://10.0.0.1/cb"),
            422,
            "callback_url_refusee",
        ),
    ]

    for body, status, code in cases:
        answer = api.post(ACTS, json=body, headers=atlanta.headers)
        assert (answer.status_code, answer.json()["erreur"]["code"]) == (
            status,
            code,
        ), body
        assert answer.json()["erreur"]["message"]

    assert _count(runtime, Act) == 0 and _count(runtime, ActDocument) == 0
    assert events_of(runtime, "") == []


def test_create_act_refuses_an_encrypted_pdf_and_bad_json(
    api: TestClient, atlanta: Provisioned, notary: Registered, tmp_path: Path
) -> None:
    encrypted = post_act(api, atlanta, notary.code_09, pdf=encrypted_pdf(tmp_path))
    not_json = api.post(
        ACTS,
        content=b"{",
        headers={**atlanta.headers, "Content-Type": "application/json"},
    )
    not_typed = api.post(ACTS, content=b"{}", headers=atlanta.headers)

    assert encrypted.json()["erreur"]["code"] == "pdf_chiffre"
    assert not_json.status_code == 400
    assert not_json.json()["erreur"]["code"] == "json_invalide"
    assert not_typed.status_code == 415


def test_get_act_shows_its_state_and_the_pdf_waits_for_the_signature(
    api: TestClient, atlanta: Provisioned, notary: Registered
) -> None:
    ref = post_act(api, atlanta, notary.code_09).json()["ref_acte"]

    read = api.get(f"{ACTS}/{ref}", headers=atlanta.headers)
    pdf = api.get(f"{ACTS}/{ref}/pdf", headers=atlanta.headers)

    assert read.status_code == 200
    assert read.json()["statut"] == "en_attente" and read.json()["decide_le"] is None
    assert pdf.status_code == 409
    assert pdf.json()["erreur"]["code"] == "acte_non_signe"


def test_another_client_cannot_read_list_or_cancel_an_act(
    api: TestClient, atlanta: Provisioned, beta: Provisioned, notary: Registered
) -> None:
    ref = post_act(api, atlanta, notary.code_09).json()["ref_acte"]

    answers = [
        api.get(f"{ACTS}/{ref}", headers=beta.headers),
        api.get(f"{ACTS}/{ref}/pdf", headers=beta.headers),
        api.post(f"{ACTS}/{ref}/annulation", headers=beta.headers),
        api.get(f"{ACTS}/ACT-20260101-ZZZZZZ", headers=atlanta.headers),
        api.get(f"{ACTS}/n'importe-quoi", headers=atlanta.headers),
    ]
    listed = api.get(ACTS, headers=beta.headers)

    assert {(a.status_code, a.json()["erreur"]["code"]) for a in answers} == {
        (404, "acte_inconnu")
    }
    assert listed.json() == []
    assert api.get(f"{ACTS}/{ref}", headers=atlanta.headers).status_code == 200


def test_cancel_act_once_then_409_and_the_person_is_told(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    notary: Registered,
    mailbox: Mailbox,
) -> None:
    ref = post_act(api, atlanta, notary.code_09).json()["ref_acte"]

    cancelled = api.post(f"{ACTS}/{ref}/annulation", headers=atlanta.headers)
    again = api.post(f"{ACTS}/{ref}/annulation", headers=atlanta.headers)

    assert cancelled.status_code == 200
    assert cancelled.json()["statut"] == "annule"
    assert cancelled.json()["decide_le"] is not None
    assert again.status_code == 409
    assert again.json()["erreur"]["code"] == "acte_deja_traite"
    assert len(events_of(runtime, ref, "acte.annule")) == 1
    deliver_mail(runtime, max(START, utcnow()))
    subjects = [m["Subject"] for m in mailbox.messages]
    assert "[Pixel Sceau] Demande de signature annulée" in subjects


def test_list_acts_filters_by_status_and_pages(
    api: TestClient, atlanta: Provisioned, notary: Registered
) -> None:
    refs = [post_act(api, atlanta, notary.code_09).json()["ref_acte"] for _ in range(3)]
    api.post(f"{ACTS}/{refs[0]}/annulation", headers=atlanta.headers)

    everything = api.get(ACTS, headers=atlanta.headers).json()
    waiting = api.get(f"{ACTS}?statut=en_attente", headers=atlanta.headers).json()
    first = api.get(f"{ACTS}?limite=2", headers=atlanta.headers).json()
    rest = api.get(
        f"{ACTS}?limite=2&avant={first[-1]['ref_acte']}", headers=atlanta.headers
    ).json()
    wrong = api.get(f"{ACTS}?statut=perdu", headers=atlanta.headers)

    assert sorted(a["ref_acte"] for a in everything) == sorted(refs)
    assert sorted(a["ref_acte"] for a in waiting) == sorted(refs[1:])
    assert [a["ref_acte"] for a in first + rest] == [a["ref_acte"] for a in everything]
    assert wrong.status_code == 422
    assert wrong.json()["erreur"]["code"] == "parametre_invalide"


def test_create_act_with_an_idempotency_key_creates_one_act(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, notary: Registered
) -> None:
    body = act_body(notary.code_09)
    headers = {**atlanta.headers, "Idempotency-Key": "acte-2026-0042"}

    first = api.post(ACTS, json=body, headers=headers)
    second = api.post(ACTS, json=body, headers=headers)
    other = api.post(ACTS, json={**body, "motif": "Autre"}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["ref_acte"] == first.json()["ref_acte"]
    assert other.status_code == 422
    assert other.json()["erreur"]["code"] == "cle_idempotence_reutilisee"
    assert _count(runtime, Act) == 1


def _count(runtime: Runtime, model: type) -> int:
    with runtime.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
