"""The story of a signature or an act, as the evidence file tells it.

Everything comes from what the service recorded: the signature and the act
rows, the delegation, the signed PDF's timestamp token, the anchoring, and the
audit trail's entries that name them. The story is plain JSON with French
keys (the shape is documented in docs/integration.md); its SHA-256 over the
canonical form says whether an evidence PDF already tells it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.acts.models import Act
from sceau.acts.states import ActState
from sceau.audit import actions
from sceau.audit.service import AuditEntryView, canonical_json
from sceau.clients.models import Client
from sceau.db import iso_utc
from sceau.delegations.envelope import InvalidEnvelope, describe, envelope_json
from sceau.delegations.models import Delegation
from sceau.delegations.service import envelope_of
from sceau.evidence.proofs import anchoring_section, timestamp_section
from sceau.evidence.steps import (
    DELEGATION_STEPS,
    REQUEST_STEPS,
    first,
    journal_ref,
    refs,
    step_json,
    story_steps,
)
from sceau.ops.logs import mask_ip
from sceau.signing.models import SignatureRecord

FORMAT = "pixel-sceau/dossier-de-preuve/1"
# The PDF's layout, in the content so that its hash changes with it: bumped
# when pdf.py tells the same story differently, kept PDFs are then made anew
# rather than served in the old layout forever.
LAYOUT_VERSION = 1
Kind = Literal["signature", "acte"]
KIND_SIGNATURE: Kind = "signature"
KIND_ACT: Kind = "acte"
# Who the story is told to: the owner client and the person read it whole;
# the holder of the signed document (public page) reads it with the
# addresses reduced to their network and without the session references.
Diffusion = Literal["complete", "publique"]
DIFFUSION_COMPLETE: Diffusion = "complete"
DIFFUSION_PUBLIC: Diffusion = "publique"
# How many characters of an entry's hash the PDF prints beside its reference.
HASH_PREFIX = 16
_ADDRESS_KEYS = frozenset({"adresse", "address"})


@dataclass(frozen=True)
class Story:
    kind: Kind
    subject: str
    client_id: str | None
    content: dict[str, Any]

    @property
    def diffusion(self) -> str:
        return str(self.content.get("diffusion", DIFFUSION_COMPLETE))

    @property
    def content_sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.content).encode()).hexdigest()


def _time(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


def public_view(story: Story) -> Story:
    """The story as the public page tells it: computed on the content, so
    that its hash, and its kept PDF, are its own."""
    content = _masked(story.content)
    for step in content["etapes"]:
        step["details"].pop("session", None)
    return replace(story, content=content | {"diffusion": DIFFUSION_PUBLIC})


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: mask_ip(item)
            if key in _ADDRESS_KEYS and isinstance(item, str)
            else _masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


# -- the two subjects ------------------------------------------------------------


def signature_story(session: Session, record: SignatureRecord) -> Story:
    act = session.scalar(select(Act).where(Act.signature_ref == record.ref))
    return _story(session, KIND_SIGNATURE, record.ref, record.client_id, record, act)


def act_story(session: Session, state: ActState) -> Story:
    return _story(
        session,
        KIND_ACT,
        state.act.ref,
        state.act.client_id,
        state.signature,
        state.act,
        act_status=state.status,
    )


def _story(
    session: Session,
    kind: Kind,
    subject: str,
    client_id: str,
    record: SignatureRecord | None,
    act: Act | None,
    *,
    act_status: str | None = None,
) -> Story:
    delegation = (
        session.get(Delegation, record.delegation_ref)
        if record is not None and record.delegation_ref
        else None
    )
    steps = story_steps(session, record, act, delegation)
    client = session.get(Client, client_id)
    content: dict[str, Any] = {
        "format": FORMAT,
        "mise_en_page": LAYOUT_VERSION,
        "diffusion": DIFFUSION_COMPLETE,
        "objet": {"type": kind, "reference": subject},
        "client": {"id": client_id, "nom": client.name if client else None},
        "demande": _request(steps, record, act, client_id),
        "acte": _act(act, act_status, steps) if act is not None else None,
        "signature": _signature(record, steps) if record is not None else None,
        "personne": _person(steps, record, act),
        "delegation": _delegation(delegation, steps) if delegation else None,
        "horodatage": timestamp_section(session, record),
        "ancrage": anchoring_section(
            session, record.ref_horodatage if record else None
        ),
        "etapes": [step_json(number, entry) for number, entry in enumerate(steps, 1)],
    }
    return Story(kind, subject, client_id, content)


# -- the sections ----------------------------------------------------------------


def _request(
    steps: list[AuditEntryView],
    record: SignatureRecord | None,
    act: Act | None,
    client_id: str,
) -> dict[str, Any]:
    """Who asked, as the entry of the request says it; without one (a
    signature older than the trail), what the record kept."""
    entry = next((e for e in steps if e.action in REQUEST_STEPS), None)
    code_09 = record.code_09 if record is not None else (act.code_09 if act else None)
    if entry is None:
        kept = record if record is not None else act
        return {
            "acteur": "client",
            "client": client_id,
            "cle_api": kept.api_key_id if kept is not None else None,
            "niveau_authentification": None,
            "cle_hmac": None,
            "empreinte_certificat": None,
            "adresse": None,
            "identite": code_09,
            "le": _time(
                act.created_at if act else record.signed_at if record else None
            ),
            "journal": [],
        }
    actor = entry.actor
    return {
        "acteur": actor.get("kind"),
        "client": actor.get("client_id") or client_id,
        "cle_api": actor.get("key_id"),
        "niveau_authentification": actor.get("level"),
        "cle_hmac": actor.get("hmac_key_id"),
        "empreinte_certificat": actor.get("certificate_fingerprint"),
        "adresse": actor.get("address"),
        "identite": code_09,
        "le": iso_utc(entry.at),
        "journal": [journal_ref(entry)],
    }


def _act(act: Act, status: str | None, steps: list[AuditEntryView]) -> dict[str, Any]:
    return {
        "reference": act.ref,
        "statut": status or act.status,
        "code_09": act.code_09,
        "signataire": act.signer_name,
        "motif": act.reason,
        "niveau_pades": act.level,
        "sha256_source": act.sha256_source,
        "taille_source": act.size_source,
        "type_acte": act.act_type,
        "montant": act.amount,
        "cree_le": _time(act.created_at),
        "expire_le": _time(act.expires_at),
        "decide_le": _time(act.decided_at),
        "motif_refus": act.refusal_reason,
        "ref_signature": act.signature_ref,
        "journal": refs(
            steps,
            actions.ACTE_CREE,
            actions.ACTE_SIGNE,
            actions.ACTE_REFUSE,
            actions.ACTE_EXPIRE,
            actions.ACTE_ANNULE,
        ),
    }


def _signature(record: SignatureRecord, steps: list[AuditEntryView]) -> dict[str, Any]:
    return {
        "reference": record.ref,
        "mode": record.mode,
        "niveau_pades": record.level,
        "motif": record.reason,
        "signataire": {"nom": record.signer_name, "code_09": record.code_09},
        "sha256_source": record.sha256_source,
        "sha256_signe": record.sha256_signed,
        "taille_source": record.size_source,
        "taille_signe": record.size_signed,
        "signe_le": _time(record.signed_at),
        "ref_horodatage": record.ref_horodatage,
        "type_acte": record.act_type,
        "montant": record.amount,
        "ref_delegation": record.delegation_ref,
        "version_matrice": record.matrix_version,
        "journal": refs(steps, actions.SIGNATURE_SIGNEE),
    }


def _person(
    steps: list[AuditEntryView], record: SignatureRecord | None, act: Act | None
) -> dict[str, Any] | None:
    """How the person authenticated and what they were shown; only when a
    person took part (an act, or a signature in the web signer)."""
    if act is None and (record is None or record.mode != "humaine"):
        return None
    code_09 = act.code_09 if act is not None else record.code_09  # type: ignore[union-attr]
    name = act.signer_name if act is not None else record.signer_name  # type: ignore[union-attr]
    logins = [
        {
            "le": iso_utc(e.at),
            "methode": e.details.get("methode"),
            "adresse": e.actor.get("address"),
            "journal": journal_ref(e),
        }
        for e in steps
        if e.action == actions.CONNEXION_REUSSIE
    ]
    views = [
        {
            "le": iso_utc(e.at),
            "sha256_affiche": e.details.get("sha256_affiche"),
            "pages": e.details.get("pages"),
            "adresse": e.actor.get("address"),
            "journal": journal_ref(e),
        }
        for e in steps
        if e.action == actions.ACTE_CONSULTE
    ]
    decision = first(
        steps, actions.ACTE_SIGNE, actions.DOCUMENT_SIGNE, actions.ACTE_REFUSE
    )
    return {
        "code_09": code_09,
        "nom": name,
        "connexions": logins,
        "consultations": views,
        "decision": None if decision is None else _decision(decision),
    }


def _decision(entry: AuditEntryView) -> dict[str, Any]:
    """How the person proved it was them when deciding, as the entry says."""
    return {
        "action": entry.action,
        "le": iso_utc(entry.at),
        "authentification": entry.details.get("authentification"),
        "totp_verifie_le": entry.details.get("totp_verifie_le"),
        "connecte_le": entry.details.get("connecte_le"),
        "sha256_affiche": entry.details.get("sha256_affiche"),
        "adresse": entry.actor.get("address"),
        "journal": journal_ref(entry),
    }


def _delegation(delegation: Delegation, steps: list[AuditEntryView]) -> dict[str, Any]:
    try:
        envelope = envelope_of(delegation)
        limits: dict[str, object] = envelope_json(envelope)
        words = describe(envelope)
    except InvalidEnvelope:
        # Rules tightened since it was signed: the stored limits still say
        # what applied, only not in the current checked form.
        limits, words = {"types_acte": delegation.act_types.split(",")}, []
    signing = first(steps, actions.DELEGATION_SIGNEE)
    return {
        "reference": delegation.ref,
        "statut": delegation.status,
        "code_09": delegation.code_09,
        "sha256_document": delegation.sha256_document,
        "ref_signature": delegation.signature_ref,
        "creee_le": _time(delegation.created_at),
        "signee_le": _time(delegation.signed_at),
        "fin_le": _time(delegation.ended_at),
        "enveloppe": limits,
        "enveloppe_texte": words,
        "signature_personne": None if signing is None else _decision(signing),
        "journal": [
            journal_ref(e)
            for e in steps
            if e.action in DELEGATION_STEPS or e.action == actions.DELEGATION_UTILISEE
        ],
    }
