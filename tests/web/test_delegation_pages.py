"""Delegations in the pages: one waiting is listed first on the home page, read
with its envelope in plain words and every page of its document, signed with
a fresh code (pdfsig trusts the signed delegation, the API then signs in the
officer's name) or refused with a reason, and revoked at once (the API is
refused from then on). Nothing is decided for a stranger, without the form's
token, with a used or wrong code, or on another document. An e-mailed link
opened while logged out comes back after login."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from sceau.delegations.models import Delegation
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from tests.conftest import Provisioned
from tests.people.conftest import START, Registered, deliver_mail
from tests.support.delegations import (
    DELEGATIONS,
    POLICY_REASON,
    SIGN,
    TUESDAY_10H,
    add_catalogue,
    delegated_sign_body,
    envelope_body,
    register_officer,
)
from tests.support.events import Mailbox
from tests.support.pdfs import one_page_pdf
from tests.support.validators import nss_db, pdfsig, signature_entries
from tests.web.conftest import (
    Account,
    FrozenClock,
    browser,
    csrf_of,
    enrol_in_page,
    log_in,
    shown,
)
from tests.web.test_acts_pages import PNG, shown_sha256, words
from tests.web.test_page_structure import _check as check_structure

PAGES = "/signer/delegations"
NOT_YOURS = "Aucune délégation qui vous est proposée ne porte cette référence."
ENVELOPE_SENTENCES = (
    "Types d'actes : polices d'assurance (police_assurance).",
    "Jours : du lundi au vendredi.",
    "Heures : de 08:00 (incluse) à 18:00 (exclue)",
    "Validité : du 1er décembre 2026 au 30 novembre 2027 inclus.",
)


@pytest.fixture
def officer(runtime: Runtime, atlanta: Provisioned) -> Registered:
    """Atlanta's managing director, its catalogue of act kinds ready."""
    add_catalogue(runtime, atlanta)
    return register_officer(runtime, atlanta, now=START)


@pytest.fixture
def officer_enrolled(
    site: TestClient, officer: Registered, clock: FrozenClock
) -> Account:
    return enrol_in_page(site, officer, clock)


@pytest.fixture
def officer_in(
    site: TestClient, officer_enrolled: Account, clock: FrozenClock
) -> Account:
    answer = log_in(site, officer_enrolled, clock)
    assert answer.status_code == 303, answer.text
    return officer_enrolled


def propose(
    site: TestClient, client: Provisioned, officer: Registered, **overrides: Any
) -> dict[str, Any]:
    """The client's system drafts a delegation through the API, at the
    pages' frozen day unless a test has set the API's clock already."""
    state = site.app.state  # type: ignore[attr-defined]
    if getattr(state, "api_clock", None) is None:
        state.api_clock = state.web_clock
    answer = site.post(
        DELEGATIONS,
        json=envelope_body(officer.code_09, **overrides),
        headers=client.headers,
    )
    assert answer.status_code == 201, answer.text
    drafted: dict[str, Any] = answer.json()
    return drafted


def sign_in_page(
    site: TestClient, ref: str, code: str, *, sha256: str | None = None
) -> httpx.Response:
    page = site.get(f"{PAGES}/{ref}")
    return site.post(
        f"{PAGES}/{ref}/signature",
        data={
            "csrf": csrf_of(page),
            "code": code,
            "sha256": sha256 or shown_sha256(page),
        },
    )


def signed_in_page(
    site: TestClient, ref: str, account: Account, clock: FrozenClock
) -> httpx.Response:
    """Signed with the next step's code, the clock moved there."""
    clock.advance(seconds=30)
    answer = sign_in_page(site, ref, account.code_at(clock.now()))
    assert answer.status_code == 303, shown(answer)
    return answer


def refuse_in_page(site: TestClient, ref: str, reason: str) -> httpx.Response:
    page = site.get(f"{PAGES}/{ref}")
    return site.post(
        f"{PAGES}/{ref}/refus", data={"csrf": csrf_of(page), "motif_refus": reason}
    )


def revoke_in_page(
    site: TestClient, ref: str, *, confirmed: bool = True
) -> httpx.Response:
    page = site.get(f"{PAGES}/{ref}")
    form = {"csrf": csrf_of(page)}
    if confirmed:
        form["confirmation"] = "oui"
    return site.post(f"{PAGES}/{ref}/revocation", data=form)


def sign_through_api(
    site: TestClient, client: Provisioned, officer: Registered, at: datetime
) -> httpx.Response:
    """The client's system signs a policy in the officer's name at ``at``."""
    site.app.state.api_clock = lambda: at  # type: ignore[attr-defined]
    return site.post(
        SIGN, json=delegated_sign_body(officer, one_page_pdf()), headers=client.headers
    )


def read_through_api(site: TestClient, client: Provisioned, ref: str) -> Any:
    return site.get(f"{DELEGATIONS}/{ref}", headers=client.headers).json()


def after_header(page: httpx.Response) -> str:
    return page.text.split("</header>", 1)[1]


def _status(runtime: Runtime, ref: str) -> str:
    with runtime.db.sessions() as session:
        return session.get_one(Delegation, ref).status


def _signatures(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return session.query(SignatureRecord).count()


# -- reading ---------------------------------------------------------------------


def test_a_waiting_delegation_comes_first_on_the_home_page(
    site: TestClient, atlanta: Provisioned, officer: Registered, officer_in: Account
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]

    page = site.get("/signer")

    home = words(page)
    waiting = home.index("Délégations en attente de votre signature")
    assert waiting < home.index("Signer un document") < home.index("Vos signatures")
    assert f'href="{PAGES}/{ref}"' in page.text
    assert "autoriser Atlanta Assurances à signer en votre nom" in home
    assert '<a class="bouton bouton-discret" href="/signer/delegations">' in page.text
    assert "Mes délégations" in home


def test_the_delegation_page_shows_the_envelope_every_page_and_the_sha256(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
) -> None:
    drafted = propose(site, atlanta, officer)
    ref = drafted["ref_delegation"]

    page = site.get(f"{PAGES}/{ref}")

    assert page.status_code == 200
    text = words(page)
    assert "Délégation à signer" in text
    assert "Atlanta Assurances vous demande l'autorisation" in text
    listed = [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", page.text)]
    for sentence in drafted["description"]:
        assert sentence in listed
    for sentence in ENVELOPE_SENTENCES:
        assert sentence in text
    assert "strictement inférieur à 5 000 000 FCFA" in text  # no-break spaces
    sha256 = drafted["sha256_document"]
    assert f'id="sha256-delegation">{sha256}</code>' in page.text
    assert shown_sha256(page) == sha256
    download = site.get(f"{PAGES}/{ref}/document.pdf")
    assert download.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(download.content).hexdigest() == sha256
    images = re.findall(r'<img src="([^"]+)"', page.text)
    assert images, page.text
    assert images == [f"{PAGES}/{ref}/pages/{n}.png" for n in range(1, len(images) + 1)]
    for image in images:
        drawn = site.get(image)
        assert drawn.status_code == 200
        assert drawn.headers["content-type"] == "image/png"
        assert drawn.content.startswith(PNG)
    assert site.get(f"{PAGES}/{ref}/pages/{len(images) + 1}.png").status_code == 404
    assert site.get(f"{PAGES}/{ref}/pages/0.png").status_code == 404
    assert 'for="code"' in page.text and 'for="motif_refus"' in page.text
    assert "Révoquer" not in text
    unsigned = site.get(f"{PAGES}/{ref}/pdf")
    assert unsigned.status_code == 409
    assert "n'est pas signée" in shown(unsigned)


def test_the_list_sorts_delegations_to_sign_in_force_and_ended(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    assert "Aucune délégation ne vous a été proposée." in shown(site.get(PAGES))
    active = propose(site, atlanta, officer)["ref_delegation"]
    signed_in_page(site, active, officer_in, clock)
    refused = propose(site, atlanta, officer)["ref_delegation"]
    refuse_in_page(site, refused, "Le plafond est trop élevé.")
    cancelled = propose(site, atlanta, officer)["ref_delegation"]
    assert (
        site.post(
            f"{DELEGATIONS}/{cancelled}/annulation", headers=atlanta.headers
        ).status_code
        == 200
    )
    waiting = propose(site, atlanta, officer)["ref_delegation"]

    page = site.get(PAGES)

    assert page.status_code == 200
    text = words(page)
    to_sign = text.index("À signer")
    in_force = text.index("En vigueur")
    ended = text.index("Terminées")
    assert to_sign < text.index(waiting) < in_force
    assert in_force < text.index(active) < ended
    assert ended < text.index(refused) and ended < text.index(cancelled)
    assert f'href="{PAGES}/{active}#revoquer"' in page.text
    assert "Révoquer la délégation " + active in text
    rows = text.split("Terminées", 1)[1]
    assert "refusée" in rows and "annulée" in rows
    assert f"{clock.now():%d/%m/%Y}" in rows


# -- signing ---------------------------------------------------------------------


def test_sign_a_delegation_in_the_page_then_the_api_signs_in_my_name(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]

    signed = signed_in_page(site, ref, officer_in, clock)

    assert signed.headers["location"] == f"{PAGES}/{ref}?fait=signee"
    page = site.get(signed.headers["location"])
    text = words(page)
    assert "Délégation en vigueur" in text
    assert "La délégation est signée : elle est en vigueur." in text
    read = read_through_api(site, atlanta, ref)
    assert read["statut"] == "active"
    signed_at = datetime.fromisoformat(read["signee_le"])
    assert (
        f"Vous avez signé cette délégation le {signed_at:%d/%m/%Y à %H:%M} UTC" in text
    )
    assert "Signer cette délégation" not in text and "<img" not in page.text
    assert f'action="{PAGES}/{ref}/revocation"' in page.text
    assert 'name="confirmation" type="checkbox"' in page.text
    assert f'href="/signer/signatures/{read["ref_signature"]}"' in page.text
    download = site.get(f"{PAGES}/{ref}/pdf")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    path = tmp_path / "delegation-signee.pdf"
    path.write_bytes(download.content)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output and "Certificate is Trusted." in output
    [entries] = signature_entries(download.content)
    assert entries["/Reason"].startswith(f"Délégation de signature {ref} ")
    home = shown(site.get("/signer"))
    assert "Délégations en attente de votre signature" not in home

    answer = sign_through_api(site, atlanta, officer, TUESDAY_10H)

    assert answer.status_code == 200, answer.text
    made = answer.json()
    assert made["mode"] == "deleguee" and made["ref_delegation"] == ref
    signed_policy = base64.b64decode(made["pdf_signe_b64"])
    policy = tmp_path / "police.pdf"
    policy.write_bytes(signed_policy)
    assert "Signature is Valid." in pdfsig(policy, tmp_path / "nssdb")
    [under] = signature_entries(signed_policy)
    assert under["/Reason"] == f"{POLICY_REASON} — signé sous la délégation {ref}"


def test_a_wrong_code_signs_nothing(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]

    answer = sign_in_page(site, ref, "000000")

    assert answer.status_code == 422
    assert "Ce code ne correspond pas" in shown(answer)
    assert "Signer cette délégation" in shown(answer)
    assert "<img" in answer.text  # still the page to read, with its pages
    assert _status(runtime, ref) == "a_signer"
    assert _signatures(runtime) == 0


def test_the_code_that_logged_in_cannot_sign_a_delegation(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]

    answer = sign_in_page(site, ref, officer_in.code_at(clock.now()))

    assert answer.status_code == 422
    assert "Ce code a déjà servi" in shown(answer)
    assert _status(runtime, ref) == "a_signer"
    assert _signatures(runtime) == 0


def test_repeated_wrong_codes_lock_the_account_in_the_delegation_page(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]
    limit = runtime.settings.person_lock_after_failures

    answers = [sign_in_page(site, ref, "000000") for _ in range(limit)]

    assert [a.status_code for a in answers[:-1]] == [422] * (limit - 1)
    locked = answers[-1]
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "verrouillé" in shown(locked)
    assert locked.headers["content-type"].startswith("text/html")
    assert _status(runtime, ref) == "a_signer"


def test_another_document_signs_nothing(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]
    clock.advance(seconds=30)
    other = hashlib.sha256(one_page_pdf("Une autre délégation")).hexdigest()

    answer = sign_in_page(site, ref, officer_in.code_at(clock.now()), sha256=other)

    assert answer.status_code == 409
    assert "Le document affiché n'est pas celui de la délégation" in shown(answer)
    assert "Signer cette délégation" in shown(answer)
    assert _status(runtime, ref) == "a_signer"
    assert _signatures(runtime) == 0


def test_a_delegation_signed_meanwhile_is_not_signed_twice(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]
    before = site.get(f"{PAGES}/{ref}")
    signed_in_page(site, ref, officer_in, clock)
    clock.advance(seconds=30)

    again = site.post(
        f"{PAGES}/{ref}/signature",
        data={
            "csrf": csrf_of(before),
            "code": officer_in.code_at(clock.now()),
            "sha256": shown_sha256(before),
        },
    )

    assert again.status_code == 409
    assert "Cette délégation est déjà signée." in shown(again)
    assert "Délégation en vigueur" in shown(again)
    assert _signatures(runtime) == 1


# -- refusing ----------------------------------------------------------------------


def test_refuse_a_delegation_in_the_page(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]
    reason = "Je ne délègue pas les polices de plus d'un million."

    refused = refuse_in_page(site, ref, reason)

    assert refused.status_code == 303
    assert refused.headers["location"] == f"{PAGES}/{ref}"
    page = site.get(refused.headers["location"])
    text = shown(page)
    assert "Délégation refusée" in text
    assert (
        f"Vous avez refusé cette délégation le {clock.now():%d/%m/%Y à %H:%M}" in text
    )
    assert f"Motif du refus : « {reason} »" in text
    assert "<form" not in after_header(page)
    read = read_through_api(site, atlanta, ref)
    assert read["statut"] == "refusee" and read["motif_refus"] == reason
    assert _signatures(runtime) == 0


def test_a_refusal_needs_a_reason(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]

    answer = refuse_in_page(site, ref, "   ")

    assert answer.status_code == 422
    assert "Indiquez en quelques mots" in shown(answer)
    assert f'action="{PAGES}/{ref}/refus"' in answer.text
    assert _status(runtime, ref) == "a_signer"


# -- revoking ----------------------------------------------------------------------


def test_revoke_a_delegation_and_the_api_is_refused_at_once(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]
    signed_in_page(site, ref, officer_in, clock)
    assert sign_through_api(site, atlanta, officer, TUESDAY_10H).status_code == 200
    clock.advance(minutes=5)

    unconfirmed = revoke_in_page(site, ref, confirmed=False)
    revoked = revoke_in_page(site, ref)

    assert unconfirmed.status_code == 422
    assert "Cochez la case de confirmation" in shown(unconfirmed)
    assert revoked.status_code == 303
    assert revoked.headers["location"] == f"{PAGES}/{ref}?fait=revoquee"
    page = site.get(revoked.headers["location"])
    text = words(page)
    assert "Délégation révoquée" in text
    assert "La délégation est révoquée." in text
    assert (
        f"Vous avez révoqué cette délégation le {clock.now():%d/%m/%Y à %H:%M}" in text
    )
    assert "<form" not in after_header(page)
    assert site.get(f"{PAGES}/{ref}/pdf").status_code == 200  # still downloadable
    assert read_through_api(site, atlanta, ref)["statut"] == "revoquee"
    listed = words(site.get(PAGES)).split("Terminées", 1)[1]
    assert ref in listed and "révoquée" in listed

    refused = sign_through_api(site, atlanta, officer, TUESDAY_10H)

    assert refused.status_code == 403
    error = refused.json()["erreur"]
    assert error["code"] == "hors_enveloppe"
    assert error["limite"] == "aucune_delegation"
    assert _signatures(runtime) == 2  # the delegation's, and the policy before

    again = site.post(
        f"{PAGES}/{ref}/revocation",
        data={"csrf": csrf_of(page), "confirmation": "oui"},
    )
    assert again.status_code == 409
    assert "n'est pas en vigueur" in shown(again)


def test_a_delegation_to_sign_cannot_be_revoked(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]

    answer = revoke_in_page(site, ref)

    assert answer.status_code == 409
    assert "n'est pas en vigueur" in shown(answer)
    assert _status(runtime, ref) == "a_signer"


# -- ended by the client or by time -------------------------------------------------


def test_a_cancelled_delegation_offers_no_form(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]
    site.post(f"{DELEGATIONS}/{ref}/annulation", headers=atlanta.headers)

    page = site.get(f"{PAGES}/{ref}")

    assert "Délégation annulée" in shown(page)
    assert "Atlanta Assurances a retiré cette délégation le" in shown(page)
    assert "<form" not in after_header(page)
    assert "<img" not in page.text


def test_a_signed_delegation_expires_after_its_last_day(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]
    signed_in_page(site, ref, officer_in, clock)
    clock.moment = datetime(2027, 12, 1, 9, 0, tzinfo=UTC)
    assert log_in(site, officer_in, clock).status_code == 303

    page = site.get(f"{PAGES}/{ref}")

    text = words(page)
    assert "Délégation expirée" in text
    assert "a pris fin le 01/12/2027 à 00:00 UTC, au terme de sa validité" in text
    assert "<form" not in after_header(page)
    listed = words(site.get(PAGES)).split("Terminées", 1)[1]
    assert ref in listed and "expirée" in listed


# -- who may do what ---------------------------------------------------------------


def test_a_post_without_the_forms_token_is_refused(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    waiting = propose(site, atlanta, officer)["ref_delegation"]
    active = propose(site, atlanta, officer)["ref_delegation"]
    signed_in_page(site, active, officer_in, clock)
    clock.advance(seconds=30)

    answers = [
        site.post(
            f"{PAGES}/{waiting}/signature",
            data={"code": officer_in.code_at(clock.now()), "sha256": "0" * 64},
        ),
        site.post(f"{PAGES}/{waiting}/refus", data={"motif_refus": "Non."}),
        site.post(f"{PAGES}/{active}/revocation", data={"confirmation": "oui"}),
        site.post(
            f"{PAGES}/{active}/revocation",
            data={"csrf": "pas-le-bon", "confirmation": "oui"},
        ),
    ]

    for answer in answers:
        assert answer.status_code == 403, answer.request.url
        assert answer.headers["content-type"].startswith("text/html")
        assert "Ce formulaire a expiré" in shown(answer)
    assert _status(runtime, waiting) == "a_signer"
    assert _status(runtime, active) == "active"


def test_another_person_cannot_see_or_decide_my_delegation(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    waiting = propose(site, atlanta, officer)["ref_delegation"]
    active = propose(site, atlanta, officer)["ref_delegation"]
    signed_in_page(site, active, officer_in, clock)
    assert site.get(f"{PAGES}/{waiting}/pages/1.png").status_code == 200

    with browser(runtime, clock) as other:
        colleague = register_officer(
            runtime,
            atlanta,
            now=clock.now(),
            name="Yao Kouassi",
            email="y.k@example.ci",
        )
        account = enrol_in_page(other, colleague, clock)
        assert log_in(other, account, clock).status_code == 303
        token = csrf_of(other.get("/signer"))

        answers = [
            other.get(f"{PAGES}/{waiting}"),
            other.get(f"{PAGES}/{waiting}/pages/1.png"),
            other.get(f"{PAGES}/{waiting}/document.pdf"),
            other.get(f"{PAGES}/{active}/pdf"),
            other.post(
                f"{PAGES}/{waiting}/signature",
                data={"csrf": token, "code": "123456", "sha256": "0" * 64},
            ),
            other.post(
                f"{PAGES}/{waiting}/refus",
                data={"csrf": token, "motif_refus": "Pas pour moi."},
            ),
            other.post(
                f"{PAGES}/{active}/revocation",
                data={"csrf": token, "confirmation": "oui"},
            ),
            other.post(f"{PAGES}/{active}/revocation", data={"csrf": token}),
        ]
        listed = other.get(PAGES)
        home = other.get("/signer")

    for answer in answers:
        assert answer.status_code == 404, answer.request.url
        assert answer.headers["content-type"].startswith("text/html")
        assert NOT_YOURS in shown(answer)
    assert waiting not in listed.text and active not in listed.text
    assert waiting not in home.text
    assert _status(runtime, waiting) == "a_signer"
    assert _status(runtime, active) == "active"


def test_an_unknown_delegation_is_a_404_page(
    site: TestClient, officer_in: Account
) -> None:
    for path in (f"{PAGES}/DLG-20261204-ZZZZZZ", f"{PAGES}/n-importe"):
        answer = site.get(path)
        assert answer.status_code == 404
        assert NOT_YOURS in shown(answer)


def test_the_e_mailed_link_leads_back_to_the_delegation_after_login(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_enrolled: Account,
    mailbox: Mailbox,
    clock: FrozenClock,
) -> None:
    ref = propose(site, atlanta, officer)["ref_delegation"]
    # The invitation went out at the pages' time, the delegation at the API's.
    deliver_mail(runtime, max(clock.now(), datetime.now(UTC)))
    bodies = [
        body.get_content()
        for message in mailbox.messages
        if message["To"] == officer.email
        and (body := message.get_body(("plain",))) is not None
    ]
    link = f"https://sceau.example.ci{PAGES}/{ref}"
    assert any(link in body for body in bodies), bodies

    opened = site.get(link)
    assert opened.status_code == 303
    assert opened.headers["location"] == (
        f"/signer/connexion?suivant={quote(f'{PAGES}/{ref}', '')}"
    )
    form = site.get(opened.headers["location"])
    clock.advance(seconds=30)
    answer = site.post(
        "/signer/connexion",
        data={
            "csrf": csrf_of(form),
            "identifiant": officer.email,
            "mot_de_passe": "le fleuve Comoé coule vers la mer",
            "code": officer_enrolled.code_at(clock.now()),
            "suivant": f"{PAGES}/{ref}",
        },
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == f"{PAGES}/{ref}"
    assert "Délégation à signer" in shown(site.get(answer.headers["location"]))
    for path in (PAGES, f"{PAGES}/{ref}/pages/1.png"):
        logged_out = browser(runtime, clock).get(path)
        assert logged_out.status_code == 303
        assert logged_out.headers["location"].startswith("/signer/connexion")


def test_the_delegation_pages_are_well_formed(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    officer: Registered,
    officer_in: Account,
    clock: FrozenClock,
) -> None:
    waiting = propose(site, atlanta, officer)["ref_delegation"]
    active = propose(site, atlanta, officer)["ref_delegation"]
    signed_in_page(site, active, officer_in, clock)
    revoked = propose(site, atlanta, officer)["ref_delegation"]
    signed_in_page(site, revoked, officer_in, clock)
    revoke_in_page(site, revoked)

    for path in (
        "/signer",
        PAGES,
        *(f"{PAGES}/{ref}" for ref in (waiting, active, revoked)),
    ):
        page = site.get(path)
        assert page.status_code == 200, path
        check_structure(page)
    check_structure(sign_in_page(site, waiting, "000000"))
    check_structure(refuse_in_page(site, waiting, ""))
    check_structure(revoke_in_page(site, active, confirmed=False))
    for path in (
        f"{PAGES}/{waiting}/pages/1.png",
        f"{PAGES}/{waiting}/document.pdf",
        f"{PAGES}/{active}/pdf",
    ):
        answer = site.get(path)
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
