"""CSRF tokens: an HMAC, under a key derived from the master key, of what the
form is bound to (a session, or the pre-session cookie of a visitor who has
not logged in yet). Nothing is stored: the server recomputes the token and
compares, and a token made for one session is worthless in another."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


@lru_cache(maxsize=4)
def csrf_key(master_key: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"pixel-sceau web csrf v1",
    ).derive(master_key)


def for_session(key: bytes, session_id: str) -> str:
    return _token(key, f"session|{session_id}")


def for_visitor(key: bytes, visitor_token: str) -> str:
    return _token(key, f"visitor|{visitor_token}")


def matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def _token(key: bytes, binding: str) -> str:
    mac = hmac.new(key, binding.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
