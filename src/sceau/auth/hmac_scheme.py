"""The level-B request signature: the ``X-Pixel-Signature`` header, the
canonical string its MAC covers, and the MAC itself.

Standard library only: the server, the Python client and anyone reimplementing
the scheme compute the same bytes. The integrators' guide documents the
canonical string byte for byte; change neither without a new version.

Header::

    X-Pixel-Signature: v1;t=<unix seconds>;n=<nonce>;k=<key id>;s=<hex MAC>

Canonical string (lines joined by a single LF, no final LF)::

    PIXEL-HMAC-SHA256-V1
    <key id>
    <timestamp>
    <nonce>
    <method, upper case>
    <host, lower case, as in the Host header>
    <path, exactly as sent, percent-encoding kept>
    <query: its name=value pairs sorted, joined by &; empty line when none>
    <SHA-256 of the exact body bytes, lower-case hex>

The MAC is HMAC-SHA-256 keyed with the UTF-8 bytes of the whole secret
(``phs_…``), in lower-case hex.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

HEADER = "X-Pixel-Signature"
VERSION = "v1"
SCHEME = "PIXEL-HMAC-SHA256-V1"
SECRET_PREFIX = "phs_"  # noqa: S105 - the prefix of every secret, not a secret

_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_KEY_ID = re.compile(r"hmk_[0-9a-f]{12}")
_MAC = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
MAX_HEADER_LENGTH = 400


class MalformedSignatureHeader(ValueError):
    """The header is not ``v1;t=…;n=…;k=…;s=…`` with valid parts."""


@dataclass(frozen=True)
class SignatureHeader:
    timestamp: int
    nonce: str
    key_id: str
    mac: str

    def render(self) -> str:
        return (
            f"{VERSION};t={self.timestamp};n={self.nonce};k={self.key_id};s={self.mac}"
        )


def parse_header(value: str) -> SignatureHeader:
    if len(value) > MAX_HEADER_LENGTH:
        raise MalformedSignatureHeader("header too long")
    version, _, rest = value.strip().partition(";")
    if version != VERSION:
        raise MalformedSignatureHeader("unknown version")

    fields: dict[str, str] = {}
    for part in rest.split(";"):
        name, sep, field = part.strip().partition("=")
        if not sep or name in fields:
            raise MalformedSignatureHeader("bad or repeated field")
        fields[name] = field
    if set(fields) != {"t", "n", "k", "s"}:
        raise MalformedSignatureHeader("fields t, n, k and s are required")

    checks = (("t", _TIMESTAMP), ("n", _NONCE), ("k", _KEY_ID), ("s", _MAC))
    for name, pattern in checks:
        if not pattern.fullmatch(fields[name]):
            raise MalformedSignatureHeader(f"field {name} is malformed")
    return SignatureHeader(
        timestamp=int(fields["t"]),
        nonce=fields["n"],
        key_id=fields["k"],
        mac=fields["s"],
    )


def canonical_query(query: str) -> str:
    """The query's pairs, sorted as sent (no decoding, no re-encoding)."""
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        pairs.append((name, value))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_string(
    *,
    key_id: str,
    timestamp: int,
    nonce: str,
    method: str,
    host: str,
    path: str,
    query: str,
    body_sha256: str,
) -> str:
    return "\n".join(
        (
            SCHEME,
            key_id,
            str(timestamp),
            nonce,
            method.upper(),
            host.lower(),
            path,
            canonical_query(query),
            body_sha256,
        )
    )


def compute_mac(secret: str, canonical: str) -> str:
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def key_id_of(secret: str) -> str:
    """The key id a secret carries: ``phs_<12 hex>_…`` is key ``hmk_<12 hex>``."""
    if not secret.startswith(SECRET_PREFIX) or secret.count("_") < 2:
        raise ValueError("not a Pixel Sceau HMAC secret (phs_…)")
    return "hmk_" + secret.split("_", 2)[1]


def sign_request(
    secret: str,
    *,
    method: str,
    host: str,
    path: str,
    query: str,
    body: bytes,
    timestamp: int,
    nonce: str,
) -> str:
    """The header value for one request (what the Python client sends)."""
    key_id = key_id_of(secret)
    canonical = canonical_string(
        key_id=key_id,
        timestamp=timestamp,
        nonce=nonce,
        method=method,
        host=host,
        path=path,
        query=query,
        body_sha256=hashlib.sha256(body).hexdigest(),
    )
    return SignatureHeader(
        timestamp=timestamp,
        nonce=nonce,
        key_id=key_id,
        mac=compute_mac(secret, canonical),
    ).render()
