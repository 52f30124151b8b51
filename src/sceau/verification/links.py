"""Addresses that lead a reader to the public verification of a signature.

The sealed PDF carries this address in its QR code for as long as the document
lives, so the pattern is defined once, here, for the seal and the page alike.
"""

from __future__ import annotations

from urllib.parse import urlencode

VERIFICATION_PAGE_PATH = "/verifier-signature"


def verification_page_url(public_base_url: str, ref_signature: str) -> str:
    """The public page that shows the verification of ``ref_signature``."""
    query = urlencode({"ref": ref_signature})
    return f"{public_base_url.rstrip('/')}{VERIFICATION_PAGE_PATH}?{query}"
