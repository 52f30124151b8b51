"""What the audit trail keeps of an act, as an auditor reads it: prepared by
the client's system, opened by its person (what they were shown, from where),
signed after their login and a fresh code, or refused, withdrawn, expired;
a refused signature with its code; and never a password or a code."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from sceau.acts.sweeper import sweep_acts
from sceau.audit.models import AuditEntry
from sceau.db import iso_utc, utcnow
from sceau.runtime import Runtime
from tests.acts.conftest import ACTS, new_act, post_act
from tests.audit.conftest import entries_of, one, story
from tests.conftest import Provisioned
from tests.people.conftest import Registered
from tests.people.test_enrolment import PASSWORD
from tests.support.pdfs import one_page_pdf
from tests.web.conftest import (
    Account,
    FrozenClock,
    clock,
    enrolled,
    logged_in,
    mailbox,
    notary,
    runtime,
    site,
)
from tests.web.test_acts_pages import refuse_in_page, sign_act_in_page

__all__ = [
    "clock",
    "enrolled",
    "logged_in",
    "mailbox",
    "notary",
    "runtime",
    "site",
]


def stored_text(runtime: Runtime) -> str:
    with runtime.db.sessions() as session:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.hash, AuditEntry.body)
        ).all()
    return "\n".join(row.body for row in rows)


def test_an_acts_story_is_in_the_trail_in_order(
    site: TestClient,
    api: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    logged_in_at = clock.now()
    pdf = one_page_pdf()
    created = post_act(api, atlanta, notary.code_09, pdf=pdf)
    assert created.status_code == 201, created.text
    ref = created.json()["ref_acte"]
    clock.advance(seconds=30)

    signed = sign_act_in_page(site, ref, logged_in.code_at(clock.now()))

    assert signed.status_code == 303, signed.text
    entries = story(runtime, ref)
    assert [e.action for e in entries] == [
        "acte.cree",
        "acte.consulte",
        "signature.signee",
        "acte.signe",
    ]
    sha256 = hashlib.sha256(pdf).hexdigest()

    made = one(entries, "acte.cree")
    assert made.actor["kind"] == "client"
    assert made.actor["key_id"] == atlanta.api_key_id
    assert made.hashes == {"source": sha256}
    assert made.objects == {"acte": ref, "identite": notary.code_09}
    assert made.request_id == created.headers["X-Request-Id"]

    seen = one(entries, "acte.consulte")
    assert seen.actor["kind"] == "personne"
    assert seen.actor["id"] == notary.code_09
    assert seen.actor["person_id"] == notary.person_id
    assert seen.actor["address"]
    assert seen.details["sha256_affiche"] == sha256
    assert seen.details["pages"] == 1

    signature = one(entries, "signature.signee")
    [signature_ref] = [signature.objects["signature"]]
    assert signed.headers["location"].startswith(f"/signer/signatures/{signature_ref}")
    assert signature.objects["acte"] == ref
    assert signature.actor["kind"] == "personne"
    assert signature.details["mode"] == "humaine"
    assert signature.hashes["source"] == sha256

    act_signed = one(entries, "acte.signe")
    assert act_signed.actor == seen.actor
    assert act_signed.objects["signature"] == signature_ref
    assert act_signed.hashes == signature.hashes
    assert act_signed.details["authentification"] == "session + code TOTP"
    assert act_signed.details["sha256_affiche"] == sha256
    assert act_signed.details["connecte_le"] == iso_utc(logged_in_at)
    assert act_signed.details["totp_verifie_le"] == iso_utc(clock.now())
    assert act_signed.details["session"]
    assert act_signed.request_id == signed.headers["X-Request-Id"]


def test_a_wrong_code_leaves_a_refused_signature_and_no_code_in_the_trail(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    ref = new_act(runtime, atlanta, notary, now=clock.now()).act.ref
    clock.advance(seconds=30)
    good = logged_in.code_at(clock.now())
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"

    answer = sign_act_in_page(site, ref, wrong)

    assert answer.status_code >= 400, answer.text
    entries = story(runtime, ref)
    assert [e.action for e in entries] == [
        "acte.cree",
        "acte.consulte",
        "signature.refusee",
    ]
    refused = one(entries, "signature.refusee")
    assert refused.details == {
        "code": "code_totp_invalide",
        "statut_http": answer.status_code,
    }
    assert refused.objects == {"acte": ref, "identite": notary.code_09}
    assert refused.actor["id"] == notary.code_09
    assert refused.client_id == atlanta.client_id
    text = stored_text(runtime)
    assert PASSWORD not in text
    assert wrong not in text and good not in text
    assert logged_in.secret not in text


def test_a_refusal_keeps_the_persons_reason(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    ref = new_act(runtime, atlanta, notary, now=clock.now()).act.ref

    answer = refuse_in_page(site, ref, "Le prix de vente est erroné.")

    assert answer.status_code == 303, answer.text
    refused = one(story(runtime, ref), "acte.refuse")
    assert refused.actor["id"] == notary.code_09 and refused.actor["address"]
    assert refused.details == {"motif_refus": "Le prix de vente est erroné."}
    assert refused.client_id == atlanta.client_id


def test_withdrawn_and_expired_acts_are_in_the_trail(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, notary: Registered
) -> None:
    withdrawn = post_act(api, atlanta, notary.code_09).json()["ref_acte"]
    expiring = post_act(api, atlanta, notary.code_09).json()["ref_acte"]

    answer = api.post(f"{ACTS}/{withdrawn}/annulation", headers=atlanta.headers)
    assert answer.status_code == 200, answer.text
    days = runtime.settings.act_default_days
    sweep_acts(runtime.db, runtime.settings, now=utcnow() + timedelta(days=days + 1))

    cancelled = one(story(runtime, withdrawn), "acte.annule")
    assert cancelled.actor["kind"] == "client"
    assert cancelled.actor["key_id"] == atlanta.api_key_id
    assert cancelled.request_id == answer.headers["X-Request-Id"]
    expired = one(story(runtime, expiring), "acte.expire")
    assert expired.actor == {"kind": "service", "id": "pixel-sceau"}
    assert expired.objects == {"acte": expiring, "identite": notary.code_09}
    assert [e.action for e in story(runtime, withdrawn)] == [
        "acte.cree",
        "acte.annule",
    ]


def test_a_failed_act_creation_leaves_no_entry(
    api: TestClient, runtime: Runtime, atlanta: Provisioned
) -> None:
    answer = post_act(api, atlanta, "09-INCONNU-X")

    assert answer.status_code >= 400
    assert [e for e in entries_of(runtime) if e.action.startswith("acte.")] == []
