"""An act's story in the audit trail: each step (prepared, opened, signed,
refused, withdrawn, expired) is an entry whose subject is the act, recorded
in the transaction that takes the step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sceau.acts.models import Act
from sceau.audit.actors import Actor
from sceau.audit.service import record as record_audit
from sceau.db import iso_utc


def record_in_trail(
    session: Session,
    action: str,
    act: Act,
    actor: Actor,
    now: datetime,
    *,
    objects: dict[str, str] | None = None,
    hashes: dict[str, str] | None = None,
    details: dict[str, object] | None = None,
    request_id: str | None = None,
) -> None:
    """One step of the act's story in the audit trail, in the caller's
    transaction: the act is its subject, its person's identity beside it."""
    record_audit(
        session,
        action,
        actor=actor,
        subject=act.ref,
        objects={"acte": act.ref, "identite": act.code_09} | (objects or {}),
        hashes=hashes or {},
        details=details or {},
        client_id=act.client_id,
        request_id=request_id or None,
        now=now,
    )


def created_details(act: Act) -> dict[str, object]:
    details: dict[str, object] = {
        "motif": act.reason,
        "niveau_pades": act.level,
        "expire_le": iso_utc(act.expires_at),
    }
    return details | {
        name: value
        for name, value in (
            ("type_acte", act.act_type),
            ("montant", act.amount),
            ("version_matrice", act.matrix_version),
        )
        if value is not None
    }
