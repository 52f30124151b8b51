"""What every page must be: French, every field labelled, nothing fetched
from another host, the security headers, and errors as pages (never JSON)."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
from fastapi.testclient import TestClient

from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.people.conftest import Registered
from tests.support.pdfs import one_page_pdf
from tests.web.conftest import Account, FrozenClock, csrf_of
from tests.web.test_acts_pages import make_act, refuse_in_page, sign_act_in_page
from tests.web.test_signing_pages import sign, upload


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.fields: list[dict[str, str | None]] = []
        self.label_targets: set[str] = set()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        if tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.fields.append(found)
        if tag == "label" and found.get("for"):
            self.label_targets.add(str(found["for"]))
        for name in ("src", "href", "action"):
            if found.get(name):
                self.urls.append(str(found[name]))
        if tag == "script" and not found.get("src"):
            self.inline_scripts += 1
        if tag == "style" or "style" in found:
            self.inline_styles += 1


def _check(page: httpx.Response) -> None:
    assert page.headers["content-type"].startswith("text/html")
    parsed = _Page()
    parsed.feed(page.text)
    assert parsed.lang == "fr"
    for field in parsed.fields:
        assert field.get("id") in parsed.label_targets, field
    for url in parsed.urls:
        assert not url.startswith(("http://", "https://", "//")), url
    assert parsed.inline_scripts == 0
    assert parsed.inline_styles == 0
    csp = page.headers["content-security-policy"]
    # The pages run no script: nothing is allowed but what they name.
    assert "default-src 'none'" in csp
    assert "script-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


def test_the_pages_before_login(site: TestClient, notary: object) -> None:
    token = notary.token  # type: ignore[attr-defined]

    for path in (
        "/signer/connexion",
        "/signer/connexion?suivant=/signer/actes/ACT-20261204-AAAAAA",
        f"/signer/inscription/{token}",
    ):
        _check(site.get(path))


def test_the_pages_of_a_session(
    site: TestClient, logged_in: Account, clock: FrozenClock
) -> None:
    review_url = upload(site, one_page_pdf()).headers["location"]
    clock.advance(seconds=30)
    result_url = sign(site, review_url, logged_in.code_at(clock.now())).headers[
        "location"
    ]
    second_review = upload(site, one_page_pdf()).headers["location"]

    for path in ("/signer", "/signer/nouveau", second_review, result_url):
        page = site.get(path)
        assert page.status_code == 200, path
        _check(page)
    _check(sign(site, second_review, "000000"))


def test_the_act_pages(
    site: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    logged_in: Account,
    clock: FrozenClock,
) -> None:
    waiting = make_act(runtime, atlanta, notary, clock)
    refused = make_act(runtime, atlanta, notary, clock)
    refuse_in_page(site, refused, "Erreur sur le lot.")

    for path in (
        "/signer",
        f"/signer/actes/{waiting}",
        f"/signer/actes/{refused}",
    ):
        page = site.get(path)
        assert page.status_code == 200, path
        _check(page)
    _check(sign_act_in_page(site, waiting, "000000"))
    _check(refuse_in_page(site, waiting, ""))
    for path in (
        f"/signer/actes/{waiting}/pages/1.png",
        f"/signer/actes/{waiting}/document.pdf",
    ):
        answer = site.get(path)
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"


def test_errors_under_signer_are_pages(site: TestClient) -> None:
    for answer in (
        site.get("/signer/inconnue"),
        site.get("/signer/inscription/perime"),
        site.post("/signer/connexion", data={"csrf": "x"}),
        site.put("/signer/connexion"),
    ):
        assert answer.status_code in (403, 404, 405, 410), answer.status_code
        _check(answer)


def test_the_api_still_answers_json(site: TestClient) -> None:
    answer = site.get("/api/v1/sceau/b2b/inconnue")

    assert answer.status_code == 404
    assert answer.json()["erreur"]["code"] == "ressource_introuvable"


def test_the_stylesheet_is_served_from_the_signer(site: TestClient) -> None:
    page = site.get("/signer/connexion")
    assert csrf_of(page)

    sheet = site.get("/signer/static/signer.css")

    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/css")
    assert "@import" not in sheet.text and "url(" not in sheet.text


def test_a_body_past_the_service_limit_is_refused_as_a_page(
    site: TestClient, runtime: Runtime
) -> None:
    limit = runtime.settings.max_body_bytes

    answer = site.post(
        "/signer/nouveau",
        content=b"x" * (limit + 1),
        headers={"content-type": "multipart/form-data; boundary=x"},
    )

    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in answer.text
