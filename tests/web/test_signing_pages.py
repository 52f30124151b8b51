"""Upload, review and signature in the page: the draft bound to the session,
its pages drawn as PNG, exactly its bytes signed with a fresh code (pdfsig
trusts the result), and only the person's own signatures downloadable."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from sceau.web.models import SigningDraft
from tests.conftest import Provisioned
from tests.people.conftest import register
from tests.support.pdfs import encrypted_pdf, many_pages_pdf, one_page_pdf
from tests.support.validators import nss_db, pdfsig, pdfsig_signatures
from tests.web.conftest import (
    Account,
    FrozenClock,
    browser,
    csrf_of,
    enrol_in_page,
    log_in,
    shown,
)

REASON = "Acte de vente, étude Koné"
PNG = b"\x89PNG\r\n\x1a\n"


def upload(
    site: TestClient,
    pdf: bytes,
    *,
    reason: str = REASON,
    level: str = "B-T",
    name: str = "acte.pdf",
) -> httpx.Response:
    form = site.get("/signer/nouveau")
    return site.post(
        "/signer/nouveau",
        data={"csrf": csrf_of(form), "motif": reason, "niveau": level},
        files={"fichier": (name, pdf, "application/pdf")},
    )


def sign(site: TestClient, review_url: str, code: str) -> httpx.Response:
    review = site.get(review_url)
    return site.post(
        f"{review_url}/signer", data={"csrf": csrf_of(review), "code": code}
    )


def test_upload_review_and_sign_what_was_shown(
    site: TestClient,
    runtime: Runtime,
    logged_in: Account,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    pdf = one_page_pdf()
    sha256 = hashlib.sha256(pdf).hexdigest()

    uploaded = upload(site, pdf)
    assert uploaded.status_code == 303
    review_url = uploaded.headers["location"]
    review = site.get(review_url)
    assert review.status_code == 200
    assert sha256 in review.text
    assert REASON in shown(review)
    [image] = re.findall(r'<img src="([^"]+)"', review.text)
    page = site.get(image)
    assert page.status_code == 200
    assert page.headers["content-type"] == "image/png"
    assert page.content.startswith(PNG)

    clock.advance(seconds=30)
    signed = sign(site, review_url, logged_in.code_at(clock.now()))

    assert signed.status_code == 303
    result = site.get(signed.headers["location"])
    assert "Le document est signé." in shown(result)
    with runtime.db.sessions() as session:
        record = session.query(SignatureRecord).one()
        assert session.query(SigningDraft).count() == 0
    assert record.sha256_source == sha256
    assert record.mode == "humaine"
    assert record.level == "B-T"
    for shown_value in (record.ref, record.ref_horodatage, record.sha256_signed):
        assert shown_value in result.text
    download = site.get(f"/signer/signatures/{record.ref}.pdf")
    assert download.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(download.content).hexdigest() == record.sha256_signed
    signed_file = tmp_path / "signe.pdf"
    signed_file.write_bytes(download.content)
    output = pdfsig(signed_file, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output
    assert "Certificate is Trusted." in output
    assert pdfsig_signatures(output)[0]["Signer Certificate Common Name"] == (
        "Maître Aminata Koné"
    )
    home = site.get("/signer")
    assert record.ref in home.text
    assert record.ref_horodatage in home.text


def test_the_code_that_logged_in_cannot_sign(
    site: TestClient, runtime: Runtime, logged_in: Account, clock: FrozenClock
) -> None:
    review_url = upload(site, one_page_pdf()).headers["location"]

    refused = sign(site, review_url, logged_in.code_at(clock.now()))

    assert refused.status_code == 422
    assert "Ce code a déjà servi" in shown(refused)
    assert "<img" in refused.text  # still the review page
    with runtime.db.sessions() as session:
        assert session.query(SignatureRecord).count() == 0


def test_a_wrong_code_is_refused_in_the_review_page(
    site: TestClient, logged_in: Account
) -> None:
    review_url = upload(site, one_page_pdf()).headers["location"]

    refused = sign(site, review_url, "000000")

    assert refused.status_code == 422
    assert "Ce code ne correspond pas" in shown(refused)


def test_an_oversized_upload_is_refused_with_the_limit(
    site: TestClient, runtime: Runtime, logged_in: Account
) -> None:
    runtime.settings.max_pdf_bytes = 2048

    answer = upload(site, many_pages_pdf(40))

    assert answer.status_code == 413
    assert "Le fichier dépasse la taille maximale" in shown(answer)
    assert REASON in shown(answer)  # the reason stays filled in


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Bonjour, ceci n'est pas un PDF.", "n'est pas un PDF"),
        (b"", "Choisissez le fichier PDF"),
    ],
)
def test_what_is_not_a_pdf_is_refused(
    site: TestClient, logged_in: Account, content: bytes, message: str
) -> None:
    answer = upload(site, content, name="" if not content else "note.pdf")

    assert answer.status_code == 422
    assert message in shown(answer)


def test_an_encrypted_pdf_is_refused(
    site: TestClient, logged_in: Account, tmp_path: Path
) -> None:
    answer = upload(site, encrypted_pdf(tmp_path))

    assert answer.status_code == 422
    assert "Le PDF est chiffré" in shown(answer)


def test_a_missing_reason_is_refused(site: TestClient, logged_in: Account) -> None:
    answer = upload(site, one_page_pdf(), reason="   ")

    assert answer.status_code == 422
    assert "Indiquez le motif" in shown(answer)


def test_the_review_draws_no_more_than_the_page_cap(
    site: TestClient, runtime: Runtime, logged_in: Account
) -> None:
    runtime.settings.web_preview_max_pages = 3

    review_url = upload(site, many_pages_pdf(5)).headers["location"]
    review = site.get(review_url)

    assert len(re.findall(r"<img ", review.text)) == 3
    assert "Seules les 3 premières pages" in shown(review)
    assert site.get(f"{review_url}/pages/4.png").status_code == 404
    assert site.get(f"{review_url}/pages/3.png").content.startswith(PNG)


def test_a_draft_expires(
    site: TestClient, runtime: Runtime, logged_in: Account, clock: FrozenClock
) -> None:
    runtime.settings.web_draft_minutes = 5
    review_url = upload(site, one_page_pdf()).headers["location"]
    clock.advance(minutes=6)

    answer = site.get(review_url)

    assert answer.status_code == 404
    assert "Ce document n'est plus disponible" in shown(answer)


def test_another_person_sees_neither_my_draft_nor_my_signature(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    review_url = upload(site, one_page_pdf()).headers["location"]
    clock.advance(seconds=30)
    signed = sign(site, review_url, logged_in.code_at(clock.now()))
    mine = signed.headers["location"].split("?")[0]

    with browser(runtime, clock) as other:
        colleague = enrol_in_page(
            other, register(runtime, atlanta, email="b.traore@example.ci"), clock
        )
        assert log_in(other, colleague, clock).status_code == 303
        second_draft = upload(site, one_page_pdf("Autre")).headers["location"]

        for path in (
            mine,
            f"{mine}.pdf",
            second_draft,
            f"{second_draft}/pages/1.png",
            f"{second_draft}/document.pdf",
        ):
            answer = other.get(path)
            assert answer.status_code == 404, path
            assert answer.headers["content-type"].startswith("text/html")
        assert mine.rsplit("/", 1)[1] not in other.get("/signer").text
