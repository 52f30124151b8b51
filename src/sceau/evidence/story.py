"""The story of a signature or an act, as the evidence file tells it.

Everything comes from what the service recorded: the signature and the act
rows, the delegation, the signed PDF's timestamp token, the anchoring, and the
audit trail's entries that name them. The story is plain JSON with French
keys (the shape is documented in docs/integration.md); its SHA-256 over the
canonical form says whether an evidence PDF already tells it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any, Literal

from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import generic_cms
from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.acts.models import Act
from sceau.acts.states import ActState
from sceau.anchoring.models import AnchorBatch, AnchorRecord
from sceau.audit import actions
from sceau.audit.models import AuditEntry
from sceau.audit.service import AuditEntryView, canonical_json, entries_about, view_of
from sceau.clients.models import Client
from sceau.db import iso_utc
from sceau.delegations.envelope import InvalidEnvelope, describe, envelope_json
from sceau.delegations.models import Delegation
from sceau.delegations.service import envelope_of
from sceau.signing.models import SignatureRecord, SignedDocument
from sceau.verification.service import FIELD_PREFIX

logger = logging.getLogger(__name__)

FORMAT = "pixel-sceau/dossier-de-preuve/1"
Kind = Literal["signature", "acte"]
KIND_SIGNATURE: Kind = "signature"
KIND_ACT: Kind = "acte"
# How many characters of an entry's hash the PDF prints beside its reference.
HASH_PREFIX = 16

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
_DELEGATION_STEPS = frozenset(
    {
        actions.DELEGATION_CREEE,
        actions.DELEGATION_CONSULTEE,
        actions.DELEGATION_SIGNEE,
    }
)
# Who asked: the first of these steps, by its actor.
_REQUEST_STEPS = (actions.ACTE_CREE, actions.SIGNATURE_SIGNEE, actions.DOCUMENT_SIGNE)
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
}


@dataclass(frozen=True)
class Story:
    kind: Kind
    subject: str
    client_id: str | None
    content: dict[str, Any]

    @property
    def content_sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.content).encode()).hexdigest()


def journal_ref(entry: AuditEntryView) -> dict[str, str]:
    return {"reference": entry.reference, "empreinte": entry.hash}


def _time(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


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
    steps = _steps(session, record, act, delegation)
    client = session.get(Client, client_id)
    content: dict[str, Any] = {
        "format": FORMAT,
        "objet": {"type": kind, "reference": subject},
        "client": {"id": client_id, "nom": client.name if client else None},
        "demande": _request(steps, record, act, client_id),
        "acte": _act(act, act_status, steps) if act is not None else None,
        "signature": _signature(record, steps) if record is not None else None,
        "personne": _person(steps, record, act),
        "delegation": _delegation(delegation, steps) if delegation else None,
        "horodatage": _timestamp(session, record),
        "ancrage": _anchoring(session, record.ref_horodatage if record else None),
        "etapes": [_step(number, entry) for number, entry in enumerate(steps, 1)],
    }
    return Story(kind, subject, client_id, content)


# -- the audit entries -----------------------------------------------------------


def _steps(
    session: Session,
    record: SignatureRecord | None,
    act: Act | None,
    delegation: Delegation | None,
) -> list[AuditEntryView]:
    own = {ref for ref in (record and record.ref, act and act.ref) if ref}
    found: dict[int, AuditEntryView] = {}
    for entry in entries_about(session, own):
        # The evidence file's own issues would change the story each time it
        # is told.
        if entry.action != actions.DOSSIER_PREUVE_EMIS:
            found[entry.seq] = entry
    if delegation is not None:
        for entry in entries_about(session, [delegation.ref]):
            if entry.subject == delegation.ref and entry.action in _DELEGATION_STEPS:
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


def _step(number: int, entry: AuditEntryView) -> dict[str, Any]:
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


def _first(steps: list[AuditEntryView], *actions_wanted: str) -> AuditEntryView | None:
    return next((e for e in steps if e.action in actions_wanted), None)


def _refs(steps: list[AuditEntryView], *actions_wanted: str) -> list[dict[str, str]]:
    return [journal_ref(e) for e in steps if e.action in actions_wanted]


# -- the sections ----------------------------------------------------------------


def _request(
    steps: list[AuditEntryView],
    record: SignatureRecord | None,
    act: Act | None,
    client_id: str,
) -> dict[str, Any]:
    """Who asked, as the entry of the request says it; without one (a
    signature older than the trail), what the record kept."""
    entry = next((e for e in steps if e.action in _REQUEST_STEPS), None)
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
        "journal": _refs(
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
        "journal": _refs(steps, actions.SIGNATURE_SIGNEE),
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
    decision = _first(
        steps, actions.ACTE_SIGNE, actions.DOCUMENT_SIGNE, actions.ACTE_REFUSE
    )
    return {
        "code_09": code_09,
        "nom": name,
        "connexions": logins,
        "consultations": views,
        "decision": None
        if decision is None
        else {
            "action": decision.action,
            "le": iso_utc(decision.at),
            "authentification": decision.details.get("authentification"),
            "totp_verifie_le": decision.details.get("totp_verifie_le"),
            "connecte_le": decision.details.get("connecte_le"),
            "sha256_affiche": decision.details.get("sha256_affiche"),
            "adresse": decision.actor.get("address"),
            "journal": journal_ref(decision),
        },
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
        "journal": [
            journal_ref(e)
            for e in steps
            if e.action in _DELEGATION_STEPS or e.action == actions.DELEGATION_UTILISEE
        ],
    }


def _timestamp(session: Session, record: SignatureRecord | None) -> dict[str, Any]:
    """The time of the RFC 3161 token in the signed PDF, as the token says it."""
    none: dict[str, Any] = {"heure": None, "autorite": None, "source": None}
    if record is None:
        return none | {"explication": "Aucune signature n'a encore été apposée."}
    pdf = session.scalar(
        select(SignedDocument.pdf).where(SignedDocument.ref == record.ref)
    )
    if pdf is None:
        return none | {
            "explication": "Le PDF signé n'est plus conservé : l'heure de son "
            "jeton d'horodatage ne peut plus être lue."
        }
    token = _token_of(pdf, FIELD_PREFIX + record.ref)
    if token is None:
        return none | {
            "explication": "La signature ne porte pas de jeton d'horodatage "
            f"(niveau {record.level})."
        }
    info = token["encap_content_info"]["content"].parsed
    return {
        "heure": _time(info["gen_time"].native),
        "autorite": _token_signer(token),
        "source": "jeton RFC 3161 de la signature, dans le PDF signé",
        "explication": None,
    }


def _token_of(pdf: bytes, field_name: str) -> cms.SignedData | None:
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        for signature in reader.embedded_regular_signatures:
            if signature.field_name == field_name:
                tokens = generic_cms.extract_tst_data_iter(
                    signature.signer_info, signed=False
                )
                return next(iter(tokens), None)
    except Exception as exc:
        # The file is the service's own, kept as delivered; should pyHanko
        # still fail on it (any of its many types), the story says the time
        # could not be read rather than failing whole.
        logger.warning(
            "evidence.token_unreadable", extra={"reason": type(exc).__name__}
        )
    return None


def _token_signer(token: cms.SignedData) -> str | None:
    signer = token["signer_infos"][0]["sid"]
    for choice in token["certificates"] or ():
        certificate = choice.chosen
        if signer.name == "issuer_and_serial_number" and (
            certificate.serial_number == signer.chosen["serial_number"].native
        ):
            common = certificate.subject.native.get("common_name")
            return str(common) if common else None
    return None


def _anchoring(session: Session, anchor_ref: str | None) -> dict[str, Any]:
    anchor = session.get(AnchorRecord, anchor_ref) if anchor_ref else None
    if anchor is None:
        return {
            "statut": "non_ancre",
            "ref_horodatage": anchor_ref,
            "lot": None,
            "bloc": None,
            "explication": "Aucun ancrage Bitcoin n'est enregistré.",
        }
    batch = session.get(AnchorBatch, anchor.batch_id) if anchor.batch_id else None
    block = None
    if anchor.status == "confirme" and batch is not None and batch.block_height:
        block = {
            "hauteur": batch.block_height,
            "horodatage": _time(batch.block_time),
            "empreinte": batch.block_hash,
            "confirme_le": _time(batch.confirmed_at),
        }
    explanations = {
        "confirme": "Empreinte du PDF signé inscrite dans la chaîne Bitcoin.",
        "soumis": "Empreinte remise aux calendriers OpenTimestamps ; "
        "l'inscription dans un bloc Bitcoin prend quelques heures.",
    }
    return {
        "statut": anchor.status,
        "ref_horodatage": anchor.ref,
        "sha256": anchor.sha256,
        "lot": batch.id if batch is not None else None,
        "bloc": block,
        "explication": explanations.get(
            anchor.status, "Ancrage Bitcoin en attente du prochain lot."
        ),
    }
