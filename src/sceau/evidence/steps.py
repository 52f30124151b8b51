"""The audit entries a story tells, in order: those naming the signature or
the act, what the delegation's own history adds, and the login that opened
each session a person acted in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.acts.models import Act
from sceau.audit import actions
from sceau.audit.models import AuditEntry
from sceau.audit.service import AuditEntryView, entries_about, view_of
from sceau.db import iso_utc
from sceau.delegations.models import Delegation
from sceau.signing.models import SignatureRecord

# The steps a person takes in a session: each is preceded by the login that
# opened it.
_PERSON_STEPS = frozenset(
    {
        actions.ACTE_CONSULTE,
        actions.ACTE_SIGNE,
        actions.ACTE_REFUSE,
        actions.DOCUMENT_SIGNE,
        actions.DELEGATION_CONSULTEE,
        actions.DELEGATION_SIGNEE,
        actions.DELEGATION_REFUSEE,
    }
)
# What a delegation's own history adds to the story of a signature made under
# it: how it came to be, not every other use of it.
DELEGATION_STEPS = frozenset(
    {
        actions.DELEGATION_CREEE,
        actions.DELEGATION_CONSULTEE,
        actions.DELEGATION_SIGNEE,
    }
)
# What a person saw or tried before deciding: only evidence up to the
# decision. A later view shows nothing about what was signed, and later
# retries would let anyone who can reach the signature grow its story.
_BEFORE_DECISION_ONLY = frozenset(
    {
        actions.ACTE_CONSULTE,
        actions.ACTE_REFUSE,
        actions.SIGNATURE_REFUSEE,
        actions.DELEGATION_CONSULTEE,
    }
)
# Who asked: the first of these steps, by its actor.
REQUEST_STEPS = (actions.ACTE_CREE, actions.SIGNATURE_SIGNEE, actions.DOCUMENT_SIGNE)
# The latest logins of a person looked at when placing a session's steps.
_LOGINS_LOOKED_AT = 200

STEP_LABELS = {
    actions.SIGNATURE_SIGNEE: "Signature apposée",
    actions.SIGNATURE_REFUSEE: "Signature refusée",
    actions.ACTE_CREE: "Acte préparé par le client",
    actions.ACTE_CONSULTE: "Acte consulté par la personne",
    actions.ACTE_SIGNE: "Acte signé par la personne",
    actions.ACTE_REFUSE: "Acte refusé par la personne",
    actions.ACTE_EXPIRE: "Délai de signature écoulé",
    actions.ACTE_ANNULE: "Acte annulé par le client",
    actions.DOCUMENT_SIGNE: "Document signé par la personne",
    actions.DELEGATION_CREEE: "Délégation proposée par le client",
    actions.DELEGATION_CONSULTEE: "Délégation consultée par la personne",
    actions.DELEGATION_SIGNEE: "Délégation signée par la personne",
    actions.DELEGATION_UTILISEE: "Signature faite sous la délégation",
    actions.DELEGATION_REFUS: "Demande hors de l'enveloppe refusée",
    actions.CONNEXION_REUSSIE: "Connexion de la personne",
    actions.CONNEXION_ECHOUEE: "Connexion de la personne refusée",
    actions.DELEGATION_REVOQUEE: "Délégation révoquée",
}


def journal_ref(entry: AuditEntryView) -> dict[str, str]:
    return {"reference": entry.reference, "empreinte": entry.hash}


def story_steps(
    session: Session,
    record: SignatureRecord | None,
    act: Act | None,
    delegation: Delegation | None,
) -> list[AuditEntryView]:
    own = {ref for ref in (record and record.ref, act and act.ref) if ref}
    decided = _decided_at(record, act)
    found: dict[int, AuditEntryView] = {}
    for entry in entries_about(session, own):
        # The evidence file's own issues would change the story each time it
        # is told.
        if entry.action != actions.DOSSIER_PREUVE_EMIS and _in_time(entry, decided):
            found[entry.seq] = entry
    if delegation is not None:
        signed = delegation.signed_at
        for entry in entries_about(session, [delegation.ref]):
            if (
                entry.subject == delegation.ref
                and entry.action in DELEGATION_STEPS
                and _in_time(entry, signed)
            ):
                found[entry.seq] = entry
    for entry in list(found.values()):
        login = _login_before(session, entry)
        if login is not None:
            found[login.seq] = login
    # In time order; at the same instant, the person's decision before the
    # signature it caused (both are written by one transaction).
    return sorted(
        found.values(),
        key=lambda e: (e.at, e.action == actions.SIGNATURE_SIGNEE, e.seq),
    )


def _decided_at(record: SignatureRecord | None, act: Act | None) -> datetime | None:
    """When the person's decision closed what they could see: the act's
    decision, else (a signature without an act) its signing."""
    if act is not None:
        return act.decided_at
    return record.signed_at if record is not None else None


def _in_time(entry: AuditEntryView, decided: datetime | None) -> bool:
    if decided is None or entry.action not in _BEFORE_DECISION_ONLY:
        return True
    return entry.at <= decided


def _login_before(session: Session, entry: AuditEntryView) -> AuditEntryView | None:
    """The login that opened the session of a person's step: the one the
    step names (its session, or its login time), else the person's last
    login before it."""
    if entry.action not in _PERSON_STEPS or entry.actor.get("kind") != "personne":
        return None
    code_09 = entry.actor.get("id")
    rows = session.execute(
        select(AuditEntry.seq, AuditEntry.hash, AuditEntry.body)
        .where(
            AuditEntry.subject == code_09,
            AuditEntry.action == actions.CONNEXION_REUSSIE,
            AuditEntry.seq < entry.seq,
        )
        .order_by(AuditEntry.seq.desc())
        .limit(_LOGINS_LOOKED_AT)
    )
    logins = [view_of(row.seq, row.hash, row.body) for row in rows]
    if not logins:
        return None
    session_id = entry.details.get("session")
    logged_in_at = entry.details.get("connecte_le")
    for login in logins:
        if session_id and login.details.get("session") == session_id:
            return login
        if logged_in_at and iso_utc(login.at) == logged_in_at:
            return login
    return logins[0]


def step_json(number: int, entry: AuditEntryView) -> dict[str, Any]:
    return {
        "ordre": number,
        "le": iso_utc(entry.at),
        "action": entry.action,
        "libelle": STEP_LABELS.get(entry.action, entry.action),
        "acteur": entry.actor,
        "objets": entry.objects,
        "empreintes": entry.hashes,
        "details": entry.details,
        "journal": journal_ref(entry),
    }


def first(steps: list[AuditEntryView], *actions_wanted: str) -> AuditEntryView | None:
    return next((e for e in steps if e.action in actions_wanted), None)


def refs(steps: list[AuditEntryView], *actions_wanted: str) -> list[dict[str, str]]:
    return [journal_ref(e) for e in steps if e.action in actions_wanted]
