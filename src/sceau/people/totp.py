"""TOTP (RFC 6238 through pyotp): 6 digits, 30-second steps, SHA-1, which is
what authenticator apps read from the QR code.

A code is accepted for the current step or the one either side (clock drift);
the caller remembers the step it matched, so that no step is accepted twice.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

ISSUER = "Pixel Sceau"
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step ``code`` belongs to, within the drift, or None."""
    code = "".join(code.split())
    totp = pyotp.TOTP(secret)
    if len(code) != totp.digits or not code.isdigit():
        return None
    current = totp.timecode(now)
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(current + offset), code):
            return current + offset
    return None
