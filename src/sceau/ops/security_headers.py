"""The security headers of every response, in one place.

The request middleware adds them to whatever a route, the error handlers or
the middleware itself answers, so that no page can be drawn without them:

- every response: ``X-Content-Type-Options: nosniff``, and HSTS when the
  request came over TLS (the scheme a trusted proxy reported, or the
  mutual-TLS front), never over plain HTTP;
- pages (the web signer, the console, the public verification page, and any
  HTML such as the API's documentation): a strict Content-Security-Policy
  (no inline script or style; the framework's documentation pages have
  their inline blocks allowed by hash), framing refused, no referrer, no
  caching;
- the API: ``Cache-Control: no-store`` unless the route chose its own (the
  CA certificates are cacheable).
A header the route set itself is kept.
"""

from __future__ import annotations

import base64
import hashlib
import re

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # The enrolment link carries its token in the path.
    "Referrer-Policy": "no-referrer",
    # Pages show codes, hashes and names: never kept by a browser or a proxy.
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"

_INLINE = re.compile(rb"<(script|style)(?:\s[^>]*)?>(.*?)</\1\s*>", re.S | re.I)


def is_html(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "text/html"


def headers_for(
    *, page: bool, html: bool, over_tls: bool, present: set[bytes]
) -> list[tuple[bytes, bytes]]:
    """The headers to add to a response that already has ``present`` (names
    in lower case)."""
    chosen = dict(PAGE_HEADERS if page or html else API_HEADERS)
    if over_tls:
        chosen["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    return [
        (name.lower().encode(), value.encode())
        for name, value in chosen.items()
        if name.lower().encode() not in present
    ]


def policy_allowing_inline(body: bytes) -> str:
    """The strict policy, with the inline scripts and styles of ``body`` (a
    page the framework draws, such as the API's documentation) allowed by
    their SHA-256, and nothing else inline."""
    scripts: list[str] = []
    styles: list[str] = []
    for kind, content in _INLINE.findall(body):
        if not content.strip():
            continue
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
        (scripts if kind.lower() == b"script" else styles).append(f"'sha256-{digest}'")
    policy = CONTENT_SECURITY_POLICY
    if scripts:
        policy = policy.replace(
            "script-src 'self'", "script-src 'self' " + " ".join(scripts)
        )
    if styles:
        policy = policy.replace(
            "style-src 'self'", "style-src 'self' " + " ".join(styles)
        )
    return policy
