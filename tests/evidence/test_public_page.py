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
from sqlalchemy import select

from sceau.app import create_app
from sceau.audit import actions
from sceau.audit.models import AuditEntry
from sceau.db import utcnow
from sceau.evidence.links import issue_link, link_key
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.support.pdfs import one_page_pdf, text_of
from tests.support.validators import nss_db, pdfsig
from tests.verification.conftest import Signed, sign_through_api
from tests.verification.test_page import PAGE, download, drop

BASE_URL = "https://sceau.example.ci"
_LINKS = re.compile(r'href="(/verifier-signature/dossier-de-preuve/[^"]+)"')


# A full address the public version must not show.
ADDRESS = "203.0.113.7"
MASKED = "203.0.113.0/24"


@pytest.fixture
def site(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime.settings, runtime)
    with TestClient(
        app, base_url=BASE_URL, follow_redirects=False, client=(ADDRESS, 50000)
    ) as client:
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


def test_the_public_version_reduces_addresses_to_their_network(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    signed: Signed,
    tmp_path: Path,
) -> None:
    owner = site.get(
        f"/api/v1/sceau/b2b/signatures/{signed.ref}/dossier-de-preuve.json",
        headers=atlanta.headers,
    ).json()
    owner_pdf = site.get(
        f"/api/v1/sceau/b2b/signatures/{signed.ref}/dossier-de-preuve",
        headers=atlanta.headers,
    )
    pdf_link, json_link = links_of(drop(site, signed.pdf))

    public = site.get(json_link)
    public_pdf = site.get(pdf_link)

    assert owner["diffusion"] == "complete"
    assert owner["demande"]["adresse"] == ADDRESS
    assert ADDRESS in text_of(owner_pdf.content, tmp_path, "complet.pdf")
    assert public.status_code == public_pdf.status_code == 200
    data = public.json()
    assert data["diffusion"] == "publique"
    assert data["demande"]["adresse"] == MASKED
    assert data["etapes"][0]["acteur"]["address"] == MASKED
    assert ADDRESS not in public.text
    assert data["empreinte_contenu"] != owner["empreinte_contenu"]
    text = text_of(public_pdf.content, tmp_path, "public.pdf")
    assert ADDRESS not in text and MASKED in text
    assert "adresses IP y sont réduites à leur réseau" in text
    assert (
        public_pdf.headers["X-Dossier-De-Preuve"]
        != (owner_pdf.headers["X-Dossier-De-Preuve"])
    )
    with runtime.db.sessions() as session:
        issued = session.scalars(
            select(AuditEntry).where(AuditEntry.action == actions.DOSSIER_PREUVE_EMIS)
        ).all()
    visitor = [e for e in issued if '"kind":"visiteur"' in e.body]
    assert len(visitor) == 1
    assert MASKED in visitor[0].body and ADDRESS not in visitor[0].body


@pytest.mark.parametrize("suffix", [".pdf", ".json"])
def test_the_public_links_count_against_the_verification_rate(
    site: TestClient, runtime: Runtime, signed: Signed, suffix: str
) -> None:
    key = link_key(runtime.settings.load_master_key())
    link = issue_link(key, signed.ref, now=utcnow())
    url = f"{PAGE}/dossier-de-preuve/{signed.ref}{suffix}?{link.query()}"
    runtime.settings.verification_rate_per_minute = 2
    # The rate's window is the minute: pinned mid-minute, all three fall in it.
    pinned = utcnow().replace(second=30, microsecond=0)
    site.app.state.api_clock = lambda: pinned  # type: ignore[attr-defined]

    answers = [site.get(url) for _ in range(3)]

    assert [a.status_code for a in answers[:2]] == [200, 200]
    refused = answers[2]
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    if suffix == ".json":
        assert refused.json()["erreur"]["code"] == "trop_de_verifications"
    else:
        assert "Trop de vérifications" in html.unescape(refused.text)


def test_a_report_signed_by_the_service_gets_no_evidence_link(
    site: TestClient, signed: Signed
) -> None:
    report = download(site, drop(site, signed.pdf), "pdf")
    assert report.status_code == 200, report.text

    again = drop(site, report.content)

    assert again.status_code == 200
    assert links_of(again) == []


@pytest.mark.parametrize("suffix", [".pdf", ".json"])
def test_odd_requests_to_the_public_links_get_no_500(
    site: TestClient, runtime: Runtime, signed: Signed, suffix: str
) -> None:
    key = link_key(runtime.settings.load_master_key())
    link = issue_link(key, signed.ref, now=utcnow())
    base = f"{PAGE}/dossier-de-preuve/{signed.ref}{suffix}"

    answers = [
        site.head(f"{base}?{link.query()}"),
        site.get(f"{base}?expire=%00&jeton=%FF%FE&expire=1&x[]=y"),
        site.get(f"{base}?expire={'9' * 40}&jeton={link.token}"),
        site.get(f"{base}?{link.query()}&{'a=b&' * 50}"),
    ]

    for answer in answers:
        assert answer.status_code < 500, answer.request.url
