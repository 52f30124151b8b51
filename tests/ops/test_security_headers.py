"""Every page the application draws carries the security headers, whatever
its status, HSTS only over TLS, and the API's answers are never cached or
sniffed. The pages are read from the application's own route table, so that
a page added later is walked too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.ops.security_headers import STRICT_TRANSPORT_SECURITY
from sceau.runtime import Runtime
from sceau.web.pages import PAGE_PREFIXES, PREFIX

_PARAMETER = re.compile(r"\{[^}]+\}")
_STRICT = (
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
    "form-action 'self'",
    "script-src 'self'",
    "style-src 'self'",
)


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


def test_the_documentation_pages_allow_only_their_own_inline_blocks(
    over_tls: TestClient,
) -> None:
    docs = over_tls.get("/docs")
    policy = docs.headers["content-security-policy"]

    assert docs.status_code == 200
    assert len(docs.headers.get_list("content-security-policy")) == 1
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/=]+'", policy)


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
