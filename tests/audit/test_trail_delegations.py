"""What the audit trail keeps of a delegation, as an auditor reads it: drafted
by the client's system, read and signed by its officer, each signature made
under it, each request it refused, and its end (revoked, refused, withdrawn),
in order, with who did each."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sceau.runtime import Runtime
from tests.audit.conftest import one, story
from tests.conftest import Provisioned
from tests.people.conftest import Registered
from tests.support.delegations import (
    DELEGATIONS,
    SIGN,
    TUESDAY_10H,
    delegated_sign_body,
)
from tests.support.pdfs import one_page_pdf
from tests.web.conftest import Account, FrozenClock, clock, mailbox, runtime, site
from tests.web.test_delegation_pages import (
    officer,
    officer_enrolled,
    officer_in,
    propose,
    refuse_in_page,
    revoke_in_page,
    sign_in_page,
    sign_through_api,
    signed_in_page,
)

__all__ = [
    "clock",
    "mailbox",
    "officer",
    "officer_enrolled",
    "officer_in",
    "runtime",
    "site",
]


def test_a_delegations_story_is_in_the_trail_in_order(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    drafted = propose(site, atlanta, officer)
    ref = drafted["ref_delegation"]
    signed_in_page(site, ref, officer_in, clock)
    used = sign_through_api(site, atlanta, officer, TUESDAY_10H)
    assert used.status_code == 200, used.text
    outside = site.post(
        SIGN,
        json=delegated_sign_body(officer, one_page_pdf(), montant=5_000_000),
        headers=atlanta.headers,
    )
    assert outside.status_code == 403, outside.text
    revoked = revoke_in_page(site, ref)
    assert revoked.status_code == 303, revoked.text

    entries = story(runtime, ref)
    assert [e.action for e in entries] == [
        "delegation.creee",
        "delegation.consultee",
        "signature.signee",
        "delegation.signee",
        "signature.signee",
        "delegation.utilisee",
        "delegation.refus",
        "signature.refusee",
        "delegation.consultee",
        "delegation.revoquee",
    ]
    made, seen, own, signed, under, use, refus, refused, _, end = entries

    assert made.actor["kind"] == "client"
    assert made.actor["key_id"] == atlanta.api_key_id
    assert made.hashes == {"document": drafted["sha256_document"]}
    assert seen.actor["id"] == officer.code_09 and seen.actor["address"]
    assert seen.details["sha256_affiche"] == drafted["sha256_document"]

    # The officer's own signature of the delegation's document.
    assert own.actor["kind"] == "personne"
    assert own.objects["delegation"] == ref
    assert own.hashes["source"] == drafted["sha256_document"]
    assert signed.objects["signature"] == own.subject
    assert signed.details["authentification"] == "session + code TOTP"
    assert signed.details["sha256_affiche"] == drafted["sha256_document"]
    assert signed.details["connecte_le"] and signed.details["totp_verifie_le"]

    # A signature the client's system made under it.
    answer = used.json()
    assert under.subject == answer["ref_signature"]
    assert under.actor["kind"] == "client"
    assert under.details["mode"] == "deleguee"
    assert under.objects["delegation"] == ref
    assert under.objects["identite"] == officer.code_09
    assert use.objects == {
        "delegation": ref,
        "signature": answer["ref_signature"],
        "identite": officer.code_09,
    }
    assert use.request_id == used.headers["X-Request-Id"]

    # A request outside the envelope.
    assert refus.details["limite"] == "montant"
    assert refus.actor["key_id"] == atlanta.api_key_id
    assert refused.details["code"] == "hors_enveloppe"
    assert refused.details["statut_http"] == 403
    assert refused.objects["delegation"] == ref
    assert refus.request_id == refused.request_id == outside.headers["X-Request-Id"]

    assert end.actor["id"] == officer.code_09 and end.actor["address"]


def test_a_refused_and_a_withdrawn_delegation_are_in_the_trail(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
) -> None:
    refused = propose(site, atlanta, officer)["ref_delegation"]
    withdrawn = propose(site, atlanta, officer)["ref_delegation"]

    assert (
        refuse_in_page(site, refused, "Le plafond est trop élevé.").status_code == 303
    )
    answer = site.post(f"{DELEGATIONS}/{withdrawn}/annulation", headers=atlanta.headers)
    assert answer.status_code == 200, answer.text

    declined = one(story(runtime, refused), "delegation.refusee")
    assert declined.actor["id"] == officer.code_09
    assert declined.details == {"motif_refus": "Le plafond est trop élevé."}
    cancelled = one(story(runtime, withdrawn), "delegation.annulee")
    assert cancelled.actor["kind"] == "client"
    assert cancelled.actor["key_id"] == atlanta.api_key_id
    assert [e.action for e in story(runtime, withdrawn)] == [
        "delegation.creee",
        "delegation.annulee",
    ]


def test_a_wrong_code_in_the_page_leaves_a_refused_signature_of_the_delegation(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]
    clock.advance(seconds=30)
    good = officer_in.code_at(clock.now())

    answer = sign_in_page(site, ref, f"{(int(good) + 1) % 1_000_000:06d}")

    assert answer.status_code >= 400, answer.text
    refused = one(story(runtime, ref), "signature.refusee")
    assert refused.subject == ref
    assert refused.details == {
        "code": "code_totp_invalide",
        "statut_http": answer.status_code,
    }
    assert refused.objects == {"delegation": ref, "identite": officer.code_09}
    assert refused.actor["kind"] == "personne"
    assert refused.actor["id"] == officer.code_09
    assert refused.client_id == atlanta.client_id
