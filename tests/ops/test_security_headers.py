"""Every page the application draws carries the security headers, whatever
its status, HSTS only over TLS, and the API's answers are never cached or
sniffed. The pages are read from the application's own route table, so that
a page added later is walked too."""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.responses import HTMLResponse
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.ops.security_headers import (
    CONTENT_SECURITY_POLICY,
    STATIC_CACHE_CONTROL,
    STRICT_TRANSPORT_SECURITY,
    inline_hashes,
    policy_hashes,
)
from sceau.runtime import Runtime
from sceau.web.pages import PAGE_PREFIXES, PREFIX

_PARAMETER = re.compile(r"\{[^}]+\}")
DOCUMENTATION = ("/docs", "/docs/oauth2-redirect")
# What every policy says, the documentation pages' included.
_STRICT = (
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "style-src 'self'",
)
# The pages run no script: nothing at all is allowed.
_NO_SCRIPT = ("default-src 'none'", "script-src 'none'")


@pytest.fixture
def database_url(data_dir: object) -> str:
    # The headers do not depend on the database: SQLite alone.
    return f"sqlite:///{data_dir}/sceau.db"


def page_paths(runtime: Runtime) -> list[str]:
    """Every GET page of the application, parameters filled with a value
    that names nothing (the answer is then an error page, still a page),
    plus the API's own documentation and a static file of the pages."""
    app = create_app(runtime.settings, runtime)
    paths = set()
    for route in iter_route_contexts(app.routes):
        path = route.path_format or ""
        is_page = any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)
        documentation = not getattr(route, "include_in_schema", True)
        if "GET" in (route.methods or ()) and (is_page or documentation):
            paths.add(_PARAMETER.sub("inconnu", path))
    paths.discard("/openapi.json")
    return sorted(paths | {f"{PREFIX}/static/signer.css"})


def _client(runtime: Runtime, base_url: str) -> TestClient:
    return TestClient(
        create_app(runtime.settings, runtime), base_url=base_url, follow_redirects=False
    )


@pytest.fixture
def over_http(runtime: Runtime) -> Iterator[TestClient]:
    with _client(runtime, "http://testserver") as client:
        yield client


@pytest.fixture
def over_tls(runtime: Runtime) -> Iterator[TestClient]:
    with _client(runtime, "https://testserver") as client:
        yield client


def assert_page_headers(headers: httpx.Headers, path: str) -> None:
    policy = headers.get("content-security-policy") or ""
    for directive in _STRICT:
        assert directive in policy, (path, policy)
    if path not in DOCUMENTATION:
        for directive in _NO_SCRIPT:
            assert directive in policy, (path, policy)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
    assert headers.get("x-frame-options") == "DENY", path
    assert headers.get("x-content-type-options") == "nosniff", path
    assert headers.get("referrer-policy") == "no-referrer", path


def test_the_walk_finds_every_kind_of_page(runtime: Runtime) -> None:
    paths = page_paths(runtime)

    assert "/signer/connexion" in paths
    assert "/console/connexion" in paths
    assert any(p.startswith("/verifier-signature") for p in paths)
    assert "/docs" in paths


def test_every_page_carries_the_security_headers_over_tls(
    runtime: Runtime, over_tls: TestClient
) -> None:
    for path in page_paths(runtime):
        page = over_tls.get(path)

        assert page.status_code < 500, (path, page.status_code)
        assert_page_headers(page.headers, path)
        assert page.headers.get("strict-transport-security") == (
            STRICT_TRANSPORT_SECURITY
        ), path


def test_no_page_sends_hsts_over_plain_http(
    runtime: Runtime, over_http: TestClient
) -> None:
    for path in page_paths(runtime):
        page = over_http.get(path)

        assert_page_headers(page.headers, path)
        assert "strict-transport-security" not in page.headers, path


def test_pages_refused_before_any_route_still_carry_the_headers(
    over_tls: TestClient,
) -> None:
    too_large = over_tls.post(
        "/signer/connexion", headers={"Content-Length": str(10**12)}, content=b""
    )
    missing = over_tls.get("/signer/nulle-part")
    wrong_method = over_tls.put("/console/connexion")

    assert too_large.status_code == 413
    for answer in (too_large, missing, wrong_method):
        assert_page_headers(answer.headers, str(answer.url))


@pytest.mark.parametrize("path", DOCUMENTATION)
def test_the_documentation_pages_allow_exactly_their_own_inline_blocks(
    over_tls: TestClient, path: str
) -> None:
    """The hashes in the policy are those of the inline blocks the page
    really holds: a framework upgrade that changes them fails here."""
    page = over_tls.get(path)
    policy = page.headers["content-security-policy"]

    assert page.status_code == 200
    assert len(page.headers.get_list("content-security-policy")) == 1
    scripts, styles = inline_hashes(page.content)
    assert scripts, path
    assert policy_hashes(policy) == (scripts, styles)
    assert "script-src 'self' 'sha256-" in policy
    assert "unsafe-inline" not in policy


def test_any_other_html_answer_gets_the_strict_policy_without_hashes(
    runtime: Runtime,
) -> None:
    """An HTML answer outside the documentation paths, even one carrying an
    inline script (such as a reflected one), has none of it allowed."""
    app = create_app(runtime.settings, runtime)

    @app.get("/reflet", include_in_schema=False)
    async def reflected() -> HTMLResponse:
        return HTMLResponse("<p>x</p><script>alert(1)</script><style>p{}</style>")

    with TestClient(app, base_url="https://testserver") as client:
        answer = client.get("/reflet")
        under_docs = client.get("/docs/ailleurs")

    assert answer.status_code == 200
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert policy_hashes(answer.headers["content-security-policy"]) == (set(), set())
    assert "sha256-" not in under_docs.headers.get("content-security-policy", "")


def test_api_answers_are_neither_sniffed_nor_cached(
    over_tls: TestClient, over_http: TestClient
) -> None:
    health = over_tls.get("/healthz")
    unknown = over_tls.get("/api/v1/sceau/b2b/signatures/SIG-INCONNUE")
    plain = over_http.get("/healthz")

    for answer in (health, unknown):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["strict-transport-security"] == STRICT_TRANSPORT_SECURITY
    assert "strict-transport-security" not in plain.headers


def test_a_route_keeps_its_own_cache_policy(over_tls: TestClient) -> None:
    root = over_tls.get("/pki/root.crt")

    assert root.headers["cache-control"] == "public, max-age=3600"
    assert root.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path", [f"{PREFIX}/static/signer.css", "/static-offline-docs/swagger-ui.css"]
)
def test_static_files_stay_cacheable(over_tls: TestClient, path: str) -> None:
    sheet = over_tls.get(path)
    missing = over_tls.get(f"{PREFIX}/static/inconnu.css")

    assert sheet.status_code == 200
    assert sheet.headers["cache-control"] == STATIC_CACHE_CONTROL
    assert sheet.headers["x-content-type-options"] == "nosniff"
    assert sheet.headers["strict-transport-security"] == STRICT_TRANSPORT_SECURITY
    assert missing.status_code == 404
    assert missing.headers["cache-control"] == "no-store"


def failing_app(runtime: Runtime) -> TestClient:
    """The application with two routes of a test's own that fail: one with a
    bug, one with a storage failure inside another exception (which the
    handlers of the storage errors do not see)."""
    app = create_app(runtime.settings, runtime)

    @app.get("/panne", include_in_schema=False)
    async def bug() -> None:
        raise RuntimeError("un bogue")

    @app.get("/disque-plein", include_in_schema=False)
    async def disk_full() -> None:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("écriture impossible") from exc

    return TestClient(app, base_url="https://testserver")


def assert_api_headers(answer: httpx.Response) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["strict-transport-security"] == STRICT_TRANSPORT_SECURITY
    assert answer.headers["x-request-id"].startswith("req_")


@pytest.mark.server_error_expected
def test_a_500_carries_the_headers_and_the_request_id_and_its_trace_is_logged(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    with failing_app(runtime) as client, caplog.at_level(logging.INFO):
        answer = client.get("/panne", headers={"X-Request-Id": "req_panne_0001"})

    assert answer.status_code == 500
    assert answer.json()["erreur"]["code"] == "erreur_interne"
    assert "un bogue" not in answer.text
    assert_api_headers(answer)
    assert answer.headers["x-request-id"] == "req_panne_0001"
    [logged] = [r for r in caplog.records if r.msg == "request.unexpected_error"]
    assert logged.exc_info is not None
    assert "un bogue" in str(logged.exc_info[1])
    [request] = [r for r in caplog.records if r.msg == "http.request"]
    assert request.status == 500  # type: ignore[attr-defined]


def test_a_wrapped_storage_failure_is_a_503_with_the_headers(
    runtime: Runtime,
) -> None:
    with failing_app(runtime) as client:
        answer = client.get("/disque-plein")

    assert answer.status_code == 503
    assert answer.json()["erreur"]["code"] == "espace_disque_plein"
    assert "retry-after" in answer.headers
    assert_api_headers(answer)


def test_forwarded_and_front_headers_from_a_client_change_nothing_over_http(
    over_http: TestClient,
) -> None:
    """Sent by a client straight to the application over plain http, a
    forwarded scheme and the front's headers (without the front's token)
    neither turn HSTS on nor make cookies Secure."""
    claims = {
        "X-Forwarded-Proto": "https",
        "X-Pixel-Front-Peer": "127.0.0.1",
        "X-Pixel-Front-Verify": "SUCCESS",
        "X-Pixel-Front-Token": "pas-le-bon",
    }

    login = over_http.get("/signer/connexion", headers=claims)
    health = over_http.get("/healthz", headers=claims)

    assert login.status_code == 200
    for answer in (login, health):
        assert "strict-transport-security" not in answer.headers
    cookies = login.headers.get_list("set-cookie")
    assert cookies
    for cookie in cookies:
        assert "secure" not in cookie.lower()
