"""The public verification page: uploading a document Pixel Sceau signed
gives a link to its evidence file, valid one hour; the reference alone, a
forged capability or an expired one opens nothing (403)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.db import utcnow
from sceau.evidence.links import issue_link, link_key
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.evidence.test_api import text_of
from tests.support.pdfs import one_page_pdf
from tests.support.validators import nss_db, pdfsig
from tests.verification.conftest import Signed, sign_through_api
from tests.verification.test_page import PAGE, drop

BASE_URL = "https://sceau.example.ci"
_LINKS = re.compile(r'href="(/verifier-signature/dossier-de-preuve/[^"]+)"')


@pytest.fixture
def site(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime.settings, runtime)
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        yield client


@pytest.fixture
def signed(site: TestClient, atlanta: Provisioned) -> Signed:
    return sign_through_api(site, atlanta, "B-T")


def links_of(page: httpx.Response) -> list[str]:
    return [html.unescape(link) for link in _LINKS.findall(page.text)]


def test_an_upload_links_to_the_evidence_file(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    signed: Signed,
    tmp_path: Path,
) -> None:
    result = drop(site, signed.pdf)

    assert result.status_code == 200, result.text
    assert "Télécharger le dossier de preuve" in html.unescape(result.text)
    pdf_link, json_link = links_of(result)
    assert pdf_link.startswith(f"{PAGE}/dossier-de-preuve/{signed.ref}.pdf?")

    evidence = site.get(pdf_link)
    assert evidence.status_code == 200, evidence.text
    assert evidence.headers["content-type"] == "application/pdf"
    path = tmp_path / "dossier.pdf"
    path.write_bytes(evidence.content)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output
    assert signed.ref in text_of(evidence.content, tmp_path, "texte.pdf")

    data = site.get(json_link).json()
    assert data["objet"] == {"type": "signature", "reference": signed.ref}
    assert data["client"]["id"] == atlanta.client_id
    # Asked again through the page: the same file, not a second one.
    assert site.get(pdf_link).content == evidence.content


def test_a_document_pixel_sceau_did_not_sign_gets_no_link(site: TestClient) -> None:
    result = drop(site, one_page_pdf())

    assert result.status_code == 200
    assert links_of(result) == []


@pytest.mark.parametrize("suffix", [".pdf", ".json"])
def test_the_reference_alone_or_a_forged_link_is_refused(
    site: TestClient, runtime: Runtime, signed: Signed, suffix: str
) -> None:
    key = link_key(runtime.settings.load_master_key())
    good = issue_link(key, signed.ref, now=utcnow())
    other = issue_link(key, "SIG-20260101-ZZZZZZ", now=utcnow())
    base = f"{PAGE}/dossier-de-preuve/{signed.ref}{suffix}"
    forged = "0" * 64
    unicode_token = "é" * 64

    answers = [
        site.get(base),
        site.get(f"{base}?expire={good.expires}&jeton={forged}"),
        site.get(f"{base}?expire={good.expires + 60}&jeton={good.token}"),
        site.get(f"{base}?expire={other.expires}&jeton={other.token}"),
        site.get(f"{base}?expire=demain&jeton={good.token}"),
        site.get(f"{base}?expire={good.expires}&jeton={unicode_token}"),
    ]

    for answer in answers:
        assert answer.status_code == 403, answer.request.url
        if suffix == ".json":
            assert answer.json()["erreur"]["code"] == "lien_dossier_invalide"
        else:
            assert "Ce lien vers le dossier de preuve est invalide ou expiré" in (
                html.unescape(answer.text)
            )


def test_an_expired_link_is_refused(
    site: TestClient, runtime: Runtime, signed: Signed
) -> None:
    key = link_key(runtime.settings.load_master_key())
    old = issue_link(key, signed.ref, now=utcnow() - timedelta(hours=1, minutes=1))
    url = f"{PAGE}/dossier-de-preuve/{signed.ref}.json?{old.query()}"

    answer = site.get(url)

    assert answer.status_code == 403
    assert answer.json()["erreur"]["code"] == "lien_dossier_invalide"
    fresh = issue_link(key, signed.ref, now=utcnow())
    assert site.get(f"{url.split('?')[0]}?{fresh.query()}").status_code == 200
