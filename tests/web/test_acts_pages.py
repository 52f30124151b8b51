"""Acts in the pages: what waits listed first on the home page, the act read
page by page, signed with a fresh code (the client's API says ``signe`` and
pdfsig trusts the PDF) or refused with a reason, and nothing decided for a
stranger, past the deadline, without the form's token or on another
document. An e-mailed link opened while logged out comes back after login."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from sceau.acts.models import Act
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from tests.acts.conftest import ACTS, REASON, new_act
from tests.conftest import Provisioned
from tests.people.conftest import Registered, register
from tests.people.test_enrolment import PASSWORD
from tests.support.pdfs import many_pages_pdf, one_page_pdf
from tests.support.validators import nss_db, pdfsig
from tests.web.conftest import (
    Account,
    FrozenClock,
    browser,
    csrf_of,
    enrol_in_page,
    log_in,
    shown,
)

PNG = b"\x89PNG\r\n\x1a\n"
_SHOWN_SHA256 = re.compile(r'name="sha256" value="([0-9a-f]{64})"')


def make_act(
    runtime: Runtime,
    client: Provisioned,
    person: Registered,
    clock: FrozenClock,
    **overrides: Any,
) -> str:
    """An act prepared for ``person`` at the pages' time; its reference."""
    return new_act(runtime, client, person, now=clock.now(), **overrides).act.ref


def shown_sha256(page: httpx.Response) -> str:
    """The digest the sign form carries back: that of the document shown."""
    found = _SHOWN_SHA256.search(page.text)
    assert found, page.text
    return found.group(1)


def sign_act_in_page(
    site: TestClient, ref: str, code: str, *, sha256: str | None = None
) -> httpx.Response:
    page = site.get(f"/signer/actes/{ref}")
    return site.post(
        f"/signer/actes/{ref}/signer",
        data={
            "csrf": csrf_of(page),
            "code": code,
            "sha256": sha256 or shown_sha256(page),
        },
    )


def refuse_in_page(site: TestClient, ref: str, reason: str) -> httpx.Response:
    page = site.get(f"/signer/actes/{ref}")
    return site.post(
        f"/signer/actes/{ref}/refus",
        data={"csrf": csrf_of(page), "motif_refus": reason},
    )


def words(page: httpx.Response) -> str:
    """The page's text without its markup, spaces collapsed."""
    return html.unescape(" ".join(re.sub(r"<[^>]*>", " ", page.text).split()))


def _signatures(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return session.query(SignatureRecord).count()


def _status(runtime: Runtime, ref: str) -> str:
    with runtime.db.sessions() as session:
        return session.get_one(Act, ref).status


def test_waiting_acts_come_first_on_the_home_page(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    later = make_act(
        runtime, atlanta, notary, clock, expires_at=clock.now() + timedelta(days=5)
    )
    sooner = make_act(
        runtime,
        atlanta,
        notary,
        clock,
        reason="Bail commercial, lot 3",
        expires_at=clock.now() + timedelta(days=2),
    )

    page = site.get("/signer")

    home = words(page)
    waiting = home.index("Actes en attente de votre signature")
    assert waiting < home.index("Signer un document") < home.index("Vos signatures")
    assert home.index(sooner) < home.index(later)  # soonest deadline first
    assert f'href="/signer/actes/{later}"' in page.text
    assert "Demandé par Atlanta Assurances le 04/12/2026" in home
    assert REASON in home and "Bail commercial, lot 3" in home
    deadline = clock.now() + timedelta(days=2)
    assert f"À signer avant le {deadline:%d/%m/%Y à %H:%M} UTC" in home
    assert "Actes traités" not in home


def test_the_act_page_shows_every_page_and_the_sha256(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    pdf = many_pages_pdf(3)
    ref = make_act(runtime, atlanta, notary, clock, pdf=pdf)
    sha256 = hashlib.sha256(pdf).hexdigest()

    page = site.get(f"/signer/actes/{ref}")

    assert page.status_code == 200
    text = shown(page)
    assert "Acte à signer" in text
    assert "Atlanta Assurances" in text and REASON in text
    assert "B-T — signature horodatée" in text
    assert f'<code class="empreinte" id="sha256-acte">{sha256}</code>' in page.text
    assert shown_sha256(page) == sha256
    images = re.findall(r'<img src="([^"]+)"', page.text)
    assert images == [f"/signer/actes/{ref}/pages/{n}.png" for n in (1, 2, 3)]
    for image in images:
        drawn = site.get(image)
        assert drawn.status_code == 200
        assert drawn.headers["content-type"] == "image/png"
        assert drawn.content.startswith(PNG)
    assert site.get(f"/signer/actes/{ref}/pages/4.png").status_code == 404
    download = site.get(f"/signer/actes/{ref}/document.pdf")
    assert download.headers["content-type"] == "application/pdf"
    assert download.content == pdf
    assert 'for="code"' in page.text and 'for="motif_refus"' in page.text


def test_the_act_page_draws_no_more_than_the_page_cap(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    runtime.settings.web_preview_max_pages = 2
    ref = make_act(runtime, atlanta, notary, clock, pdf=many_pages_pdf(4))

    page = site.get(f"/signer/actes/{ref}")

    assert len(re.findall(r"<img ", page.text)) == 2
    assert "Seules les 2 premières pages" in shown(page)
    assert site.get(f"/signer/actes/{ref}/pages/3.png").status_code == 404


def test_sign_an_act_in_the_page(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    ref = make_act(runtime, atlanta, notary, clock)
    clock.advance(seconds=30)

    signed = sign_act_in_page(site, ref, logged_in.code_at(clock.now()))

    assert signed.status_code == 303
    read = site.get(f"{ACTS}/{ref}", headers=atlanta.headers).json()
    assert read["statut"] == "signe"
    assert signed.headers["location"] == (
        f"/signer/signatures/{read['ref_signature']}?nouvelle=1"
    )
    result = site.get(signed.headers["location"])
    assert "Le document est signé." in shown(result)
    assert read["ref_horodatage"] in result.text
    download = site.get(f"/signer/signatures/{read['ref_signature']}.pdf")
    assert hashlib.sha256(download.content).hexdigest() == read["sha256_signe"]
    path = tmp_path / "acte-signe.pdf"
    path.write_bytes(download.content)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output and "Certificate is Trusted." in output

    after = site.get(f"/signer/actes/{ref}")
    assert after.status_code == 200
    assert "Vous avez signé cet acte le" in shown(after)
    assert "<form" not in after.text.split("</header>", 1)[1]
    assert f'href="/signer/signatures/{read["ref_signature"]}"' in after.text
    home = shown(site.get("/signer"))
    assert "Actes en attente de votre signature" not in home
    traites = home.split("Actes traités", 1)[1]
    assert ref in traites and "signé" in traites


def test_refuse_an_act_in_the_page(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    ref = make_act(runtime, atlanta, notary, clock)
    reason = "Le prix indiqué n'est pas celui convenu."

    refused = refuse_in_page(site, ref, reason)

    assert refused.status_code == 303
    assert refused.headers["location"] == f"/signer/actes/{ref}"
    page = site.get(refused.headers["location"])
    text = shown(page)
    assert "Acte refusé" in text
    assert "Vous avez refusé de signer cet acte" in text
    assert f"Motif du refus : « {reason} »" in text
    assert "<form" not in page.text.split("</header>", 1)[1]
    read = site.get(f"{ACTS}/{ref}", headers=atlanta.headers).json()
    assert read["statut"] == "refuse"
    assert read["motif_refus"] == reason
    assert _signatures(runtime) == 0


def test_a_refusal_needs_a_reason(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    ref = make_act(runtime, atlanta, notary, clock)

    answer = refuse_in_page(site, ref, "   ")

    assert answer.status_code == 422
    assert "Le motif du refus est obligatoire" in shown(answer)
    assert 'action="/signer/actes/' in answer.text  # the forms are still there
    assert _status(runtime, ref) == "en_attente"


def test_an_expired_act_cannot_be_signed(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    ref = make_act(
        runtime, atlanta, notary, clock, expires_at=clock.now() + timedelta(minutes=2)
    )
    before = site.get(f"/signer/actes/{ref}")
    clock.advance(minutes=3)

    page = site.get(f"/signer/actes/{ref}")
    late = site.post(
        f"/signer/actes/{ref}/signer",
        data={
            "csrf": csrf_of(before),
            "code": logged_in.code_at(clock.now()),
            "sha256": shown_sha256(before),
        },
    )

    assert "Acte expiré" in shown(page)
    assert "il ne peut plus être signé" in shown(page)
    assert "<form" not in page.text.split("</header>", 1)[1]
    assert "<img" not in page.text
    assert late.status_code == 409
    assert "Le délai de signature de cet acte est écoulé" in shown(late)
    assert _signatures(runtime) == 0
    assert ref not in shown(site.get("/signer")).split("Vos signatures")[0]


def test_a_tampered_sha256_signs_nothing(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    ref = make_act(runtime, atlanta, notary, clock)
    clock.advance(seconds=30)
    other = hashlib.sha256(one_page_pdf("Un autre document")).hexdigest()

    answer = sign_act_in_page(site, ref, logged_in.code_at(clock.now()), sha256=other)

    assert answer.status_code == 422
    assert "Le document affiché n'est pas celui de l'acte" in shown(answer)
    assert "Signer cet acte" in shown(answer)
    assert _signatures(runtime) == 0
    assert _status(runtime, ref) == "en_attente"


def test_the_code_that_logged_in_cannot_sign_an_act(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    ref = make_act(runtime, atlanta, notary, clock)

    answer = sign_act_in_page(site, ref, logged_in.code_at(clock.now()))

    assert answer.status_code == 422
    assert "Ce code a déjà servi" in shown(answer)
    assert "<img" in answer.text  # still the act page, with its pages
    assert _signatures(runtime) == 0


def test_repeated_wrong_codes_lock_the_account_in_the_act_page(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    ref = make_act(runtime, atlanta, notary, clock)
    limit = runtime.settings.person_lock_after_failures

    answers = [sign_act_in_page(site, ref, "000000") for _ in range(limit)]

    assert [a.status_code for a in answers[:-1]] == [422] * (limit - 1)
    locked = answers[-1]
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "verrouillé" in shown(locked)
    assert locked.headers["content-type"].startswith("text/html")
    assert _status(runtime, ref) == "en_attente"


def test_a_post_without_the_forms_token_is_refused(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    ref = make_act(runtime, atlanta, notary, clock)
    clock.advance(seconds=30)

    signing = site.post(
        f"/signer/actes/{ref}/signer",
        data={"code": logged_in.code_at(clock.now()), "sha256": "0" * 64},
    )
    refusing = site.post(f"/signer/actes/{ref}/refus", data={"motif_refus": "Non."})

    for answer in (signing, refusing):
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("text/html")
        assert "Ce formulaire a expiré" in shown(answer)
    assert _status(runtime, ref) == "en_attente"


def test_another_person_cannot_see_or_decide_my_act(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    ref = make_act(runtime, atlanta, notary, clock)
    assert site.get(f"/signer/actes/{ref}/pages/1.png").status_code == 200

    with browser(runtime, clock) as other:
        colleague = enrol_in_page(
            other, register(runtime, atlanta, email="b.traore@example.ci"), clock
        )
        assert log_in(other, colleague, clock).status_code == 303
        token = csrf_of(other.get("/signer"))

        answers = [
            other.get(f"/signer/actes/{ref}"),
            other.get(f"/signer/actes/{ref}/pages/1.png"),
            other.get(f"/signer/actes/{ref}/document.pdf"),
            other.post(
                f"/signer/actes/{ref}/refus",
                data={"csrf": token, "motif_refus": "Pas pour moi."},
            ),
            other.post(
                f"/signer/actes/{ref}/signer",
                data={"csrf": token, "code": "123456", "sha256": "0" * 64},
            ),
        ]
        home = other.get("/signer")

    for answer in answers:
        assert answer.status_code == 404, answer.request.url
        assert answer.headers["content-type"].startswith("text/html")
        assert "Aucun acte qui vous est adressé" in shown(answer)
    assert ref not in home.text
    assert _status(runtime, ref) == "en_attente"


def test_an_unknown_act_is_a_404_page(site: TestClient, logged_in: Account) -> None:
    for path in ("/signer/actes/ACT-20261204-ZZZZZZ", "/signer/actes/n-importe"):
        answer = site.get(path)
        assert answer.status_code == 404
        assert "Aucun acte qui vous est adressé" in shown(answer)


def test_the_e_mailed_link_leads_back_to_the_act_after_login(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    enrolled: Account,
    clock: FrozenClock,
) -> None:
    ref = make_act(runtime, atlanta, notary, clock)

    opened = site.get(f"/signer/actes/{ref}")
    assert opened.status_code == 303
    login_page = opened.headers["location"]
    assert (
        login_page == f"/signer/connexion?suivant={quote(f'/signer/actes/{ref}', '')}"
    )
    form = site.get(login_page)
    assert "Connectez-vous pour lire l'acte qui vous est adressé" in shown(form)
    clock.advance(seconds=30)
    answer = _log_in_to(site, enrolled, clock, form, suivant=f"/signer/actes/{ref}")

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/signer/actes/{ref}"
    assert "Acte à signer" in shown(site.get(answer.headers["location"]))


@pytest.mark.parametrize(
    "target",
    [
        "https://pirate.example/signer",
        "//pirate.example/signer",
        "/\\pirate.example",
        "/signer//pirate.example",
        "/signer/../api/v1/sceau/b2b/actes",
        "/signer/%2F%2Fpirate.example",
        "/signerx",
        "/api/v1/sceau/b2b/actes",
        "/signer/connexion",
        "signer/actes/ACT-20261204-AAAAAA",
        " /signer/actes",
        "/signer/actes\r\nLocation: https://pirate.example",
    ],
)
def test_the_login_never_leads_to_another_site(
    site: TestClient, enrolled: Account, clock: FrozenClock, target: str
) -> None:
    form = site.get("/signer/connexion", params={"suivant": target})
    assert 'name="suivant"' not in form.text
    clock.advance(seconds=30)

    answer = _log_in_to(site, enrolled, clock, form, suivant=target)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/signer"


def _log_in_to(
    site: TestClient,
    account: Account,
    clock: FrozenClock,
    form: httpx.Response,
    *,
    suivant: str,
) -> httpx.Response:
    return site.post(
        "/signer/connexion",
        data={
            "csrf": csrf_of(form),
            "identifiant": account.who.email,
            "mot_de_passe": PASSWORD,
            "code": account.code_at(clock.now()),
            "suivant": suivant,
        },
    )
