"""Queueing signed documents for anchoring, in the signing transaction."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from sceau.anchoring.models import AnchorRecord

REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
STATUS_PENDING = "en_attente"


def new_anchor_ref() -> str:
    return "HRD-" + "".join(secrets.choice(REF_ALPHABET) for _ in range(8))


def queue_for_anchoring(session: Session, *, client_id: str, sha256: str) -> str:
    """Record the digest as waiting for anchoring and return its ``HRD-…``."""
    ref = new_anchor_ref()
    session.add(
        AnchorRecord(ref=ref, client_id=client_id, sha256=sha256, status=STATUS_PENDING)
    )
    return ref
