"""The security headers of every response, in one place.

The request middleware adds them to whatever a route, the error handlers or
the middleware itself answers, so that no page can be drawn without them:

- every response: ``X-Content-Type-Options: nosniff``, and HSTS when the
  request came over TLS (the scheme a trusted proxy reported, or the
  mutual-TLS front), never over plain HTTP;
- pages (the web signer, the console, the public verification page) and any
  other HTML: a Content-Security-Policy that allows no script at all and
  nothing inline, framing refused, no referrer, no caching;
- the framework's documentation pages (Swagger UI at ``/docs`` and its
  OAuth2 redirect), and those paths only: their scripts from the service
  itself, and their own inline blocks allowed by hash, computed once from
  the pages as the framework draws them when the application is built;
- the API: ``Cache-Control: no-store`` unless the route chose its own (the
  CA certificates are cacheable);
- the pages' static files (style sheets): cacheable for an hour.
A header the route set itself is kept.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import re
from collections.abc import Coroutine, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from fastapi.routing import APIRoute
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

# The pages run no script at all: nothing to inject one into.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "script-src 'none'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
# Swagger UI loads its script and style sheet from the service and fetches
# /openapi.json; its inline blocks are added by hash (see policy_allowing).
DOCUMENTATION_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
PAGE_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        # The enrolment link carries its token in the path.
        "Referrer-Policy": "no-referrer",
        # Pages show codes, hashes and names: never kept by a browser or a proxy.
        "Cache-Control": "no-store",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
)
API_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
)
# The pages' style sheets hold nothing private and change only with a release.
STATIC_CACHE_CONTROL = "public, max-age=3600"
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"

_INLINE = re.compile(rb"<(script|style)(?:\s[^>]*)?>(.*?)</\1\s*>", re.S | re.I)


def is_html(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "text/html"


def headers_for(
    *,
    page: bool,
    html: bool,
    over_tls: bool,
    present: set[bytes],
    policy: str | None = None,
    static: bool = False,
) -> list[tuple[bytes, bytes]]:
    """The headers to add to a response that already has ``present`` (names
    in lower case); ``policy`` replaces the strict one (a documentation
    page), ``static`` marks a page's static file."""
    chosen = dict(PAGE_HEADERS if page or html or policy else API_HEADERS)
    if policy is not None:
        chosen["Content-Security-Policy"] = policy
    if static:
        chosen["Cache-Control"] = STATIC_CACHE_CONTROL
    if over_tls:
        chosen["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    return [
        (name.lower().encode(), value.encode())
        for name, value in chosen.items()
        if name.lower().encode() not in present
    ]


def inline_hashes(body: bytes) -> tuple[set[str], set[str]]:
    """The CSP sources (``'sha256-…'``) of ``body``'s inline scripts and
    inline styles."""
    scripts: set[str] = set()
    styles: set[str] = set()
    for kind, content in _INLINE.findall(body):
        if not content.strip():
            continue
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
        (scripts if kind.lower() == b"script" else styles).add(f"'sha256-{digest}'")
    return scripts, styles


def policy_allowing(scripts: set[str], styles: set[str]) -> str:
    """The documentation pages' policy, with the given inline scripts and
    styles allowed by hash, and nothing else inline."""
    policy = DOCUMENTATION_POLICY
    if scripts:
        policy = policy.replace(
            "script-src 'self'", "script-src 'self' " + " ".join(sorted(scripts))
        )
    if styles:
        policy = policy.replace(
            "style-src 'self'", "style-src 'self' " + " ".join(sorted(styles))
        )
    return policy


def policy_hashes(policy: str) -> tuple[set[str], set[str]]:
    """The hashes a policy allows in ``script-src`` and in ``style-src``."""
    found: dict[str, set[str]] = {"script-src": set(), "style-src": set()}
    for directive in policy.split(";"):
        name, *sources = directive.split() or [""]
        if name in found:
            found[name] = {s for s in sources if s.startswith("'sha256-")}
    return found["script-src"], found["style-src"]


def documentation_policies(app: Starlette, paths: Iterable[str]) -> dict[str, str]:
    """The policy of each of ``app``'s documentation pages at ``paths``
    (Swagger UI and its OAuth2 redirect), by path: each page drawn once here,
    as the framework draws it, its inline blocks allowed by hash. Any other
    HTML answer gets the strict policy."""
    wanted = set(paths)
    policies = {}
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path not in wanted:
            continue
        body = _drawn(route)
        if body is None:
            raise RuntimeError(f"{route.path} does not draw an HTML page by itself")
        policies[route.path] = policy_allowing(*inline_hashes(body))
    if set(policies) != wanted:
        raise RuntimeError(f"no documentation page at {sorted(wanted - set(policies))}")
    return policies


def _drawn(route: APIRoute) -> bytes | None:
    """The HTML ``route``'s endpoint answers, when it takes nothing but the
    request; None otherwise."""
    parameters = inspect.signature(route.endpoint).parameters.values()
    if any(p.annotation not in (Request, "Request") for p in parameters):
        return None
    scope = {
        "type": "http",
        "method": "GET",
        "path": route.path,
        "root_path": "",
        "query_string": b"",
        "headers": [],
    }
    answer = route.endpoint(*(Request(scope) for _ in parameters))
    if inspect.iscoroutine(answer):
        answer = _run_to_end(answer)
    if not isinstance(answer, Response) or not is_html(answer.media_type or ""):
        return None
    return bytes(answer.body)


def _run_to_end(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """The result of a coroutine that awaits nothing (the framework's
    documentation endpoints build their page and return it): run here, at
    start-up, with or without an event loop around."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a documentation endpoint awaited something")
