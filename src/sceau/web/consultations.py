"""A person opening a document's page in the web signer (an act's, a
delegation's), in the audit trail. Reading changes nothing, so the entry
takes a transaction of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sceau.audit.actors import Actor
from sceau.audit.service import record_now
from sceau.runtime import Runtime
from sceau.web.sessions import SignedIn, session_reference


@dataclass(frozen=True)
class Consulted:
    """What was opened: ``kind`` names it among the entry's objects
    (``acte``, ``delegation``), beside its person's identity."""

    kind: str
    ref: str
    code_09: str
    client_id: str
    sha256_shown: str
    page_count: int | None
    status: str


def record_consultation(
    runtime: Runtime,
    signed_in: SignedIn,
    action: str,
    consulted: Consulted,
    *,
    address: str | None,
    now: datetime,
) -> None:
    """What the person was shown, by its SHA-256 and its page count when the
    pages could be drawn."""
    record_now(
        runtime.db,
        action,
        actor=Actor.person(signed_in.code_09, signed_in.person_id, address=address),
        subject=consulted.ref,
        objects={consulted.kind: consulted.ref, "identite": consulted.code_09},
        details={
            "sha256_affiche": consulted.sha256_shown,
            "pages": consulted.page_count,
            "statut": consulted.status,
            # Names the login that opened this session, for the evidence file.
            "session": session_reference(signed_in.session_id),
        },
        client_id=consulted.client_id,
        now=now,
    )
