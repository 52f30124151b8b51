"""A delegation's story in the audit trail: each step (drafted, signed,
refused, withdrawn, revoked) is an entry whose subject is the delegation,
recorded in the transaction that takes the step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sceau.audit.actors import Actor
from sceau.audit.service import record as record_audit
from sceau.delegations.models import Delegation


def record_in_trail(
    session: Session,
    action: str,
    delegation: Delegation,
    actor: Actor,
    now: datetime,
    *,
    objects: dict[str, str] | None = None,
    hashes: dict[str, str] | None = None,
    details: dict[str, object] | None = None,
    request_id: str | None = None,
) -> None:
    """One step of the delegation's story in the audit trail, in the
    caller's transaction."""
    record_audit(
        session,
        action,
        actor=actor,
        subject=delegation.ref,
        objects={"delegation": delegation.ref, "identite": delegation.code_09}
        | (objects or {}),
        hashes=hashes or {},
        details=details or {},
        client_id=delegation.client_id,
        request_id=request_id or None,
        now=now,
    )
