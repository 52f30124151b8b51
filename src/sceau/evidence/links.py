"""The public verification's way to the evidence file: a capability.

Someone who uploads a signed PDF on the public page proves they hold it; the
page then gives a link to that signature's evidence file, valid one hour,
carrying an HMAC over the signature's reference and the link's expiry. The
reference alone opens nothing: without a capability this server made, the
link is refused (403). Nothing is stored: any process can check it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sceau.evidence.errors import EvidenceLinkInvalid

LIFETIME = timedelta(hours=1)
_TOKEN_LENGTH = 64
_HEX = frozenset("0123456789abcdef")


@lru_cache(maxsize=4)
def link_key(master_key: bytes) -> bytes:
    """A key of its own: a capability can never pass for a sealed report, a
    CSRF token or a session."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"pixel-sceau evidence links v1",
    ).derive(master_key)


@dataclass(frozen=True)
class EvidenceLink:
    ref: str
    expires: int
    token: str

    def query(self) -> str:
        return urlencode({"expire": self.expires, "jeton": self.token})


def issue_link(key: bytes, ref: str, *, now: datetime) -> EvidenceLink:
    expires = int((now + LIFETIME).timestamp())
    return EvidenceLink(ref, expires, _mac(key, ref, expires))


def check_link(
    key: bytes, ref: str, expires: str, token: str, *, now: datetime
) -> None:
    """Raise ``EvidenceLinkInvalid`` unless this server made the link for
    ``ref`` and its hour is not over."""
    # Checked as text first: compare_digest refuses non-ASCII strings, and
    # isdigit accepts digits of other scripts.
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
        raise EvidenceLinkInvalid()
    if len(token) != _TOKEN_LENGTH or not set(token) <= _HEX:
        raise EvidenceLinkInvalid()
    expected = _mac(key, ref, int(expires))
    if not hmac.compare_digest(expected, token):
        raise EvidenceLinkInvalid()
    # Beyond the lifetime, the link was not made by this version of the
    # server's rules: a leaked key's longer links are refused too.
    if not now.timestamp() <= int(expires) <= (now + LIFETIME).timestamp() + 1:
        raise EvidenceLinkInvalid()


def _mac(key: bytes, ref: str, expires: int) -> str:
    return hmac.new(key, f"{ref}|{expires}".encode(), hashlib.sha256).hexdigest()
