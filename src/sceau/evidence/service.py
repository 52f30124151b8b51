"""Evidence files: finding the story the asker may read, and the signed PDF
that tells it, made once per story.

Who may ask is settled here, never by the routes: the client that owns the
signature or the act, the person who signed, or anyone the public page gave a
capability to (checked by the caller, ``sceau.evidence.links``).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sceau.acts.service import get_act
from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record
from sceau.db import iso_utc, utcnow
from sceau.documents.sealing import sign_as_service
from sceau.evidence.models import EvidenceFile
from sceau.evidence.pdf import render_evidence_pdf
from sceau.evidence.story import Story, act_story, signature_story
from sceau.runtime import Runtime
from sceau.signing.errors import SignatureNotFound
from sceau.signing.models import SignatureRecord, SignedDocument
from sceau.signing.service import REF_PATTERN, get_signature
from sceau.web.drafts import own_signature
from sceau.web.sessions import SignedIn

logger = logging.getLogger(__name__)

REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def new_evidence_id(now: datetime) -> str:
    suffix = "".join(secrets.choice(REF_ALPHABET) for _ in range(8))
    return f"DPR-{now:%Y%m%d}-{suffix}"


@dataclass(frozen=True)
class IssuedEvidence:
    id: str
    signature_ref: str
    pdf: bytes
    # True when this request made (and signed) it.
    new: bool


# -- whose story -----------------------------------------------------------------


def client_signature_story(runtime: Runtime, client_id: str, ref: str) -> Story:
    """Another client's reference reads as unknown (``signature_inconnue``)."""
    with runtime.db.sessions() as session:
        return signature_story(session, get_signature(session, client_id, ref))


def client_act_story(
    runtime: Runtime, client_id: str, ref: str, *, now: datetime | None = None
) -> Story:
    """Another client's reference reads as unknown (``acte_inconnu``)."""
    with runtime.db.sessions() as session:
        return act_story(session, get_act(session, client_id, ref, now))


def person_signature_story(runtime: Runtime, who: SignedIn, ref: str) -> Story:
    """Only a signature the person made themself."""
    with runtime.db.sessions() as session:
        return signature_story(session, own_signature(session, who, ref))


def public_signature_story(runtime: Runtime, ref: str) -> Story:
    """For a holder of a capability the public page gave (checked before)."""
    with runtime.db.sessions() as session:
        found = _any_signature(session, ref)
        return signature_story(session, found)


def _any_signature(session: Session, ref: str) -> SignatureRecord:
    found = session.get(SignatureRecord, ref) if REF_PATTERN.match(ref) else None
    if found is None:
        raise SignatureNotFound("Aucune signature ne porte cette référence.")
    return found


# -- the JSON and the PDF --------------------------------------------------------


def evidence_json(story: Story, *, now: datetime | None = None) -> dict[str, Any]:
    """The story as the API gives it, computed at each request."""
    return story.content | {
        "empreinte_contenu": story.content_sha256,
        "etabli_le": iso_utc(now or utcnow()),
    }


def evidence_pdf(
    runtime: Runtime, story: Story, *, actor: Actor, now: datetime | None = None
) -> IssuedEvidence:
    """The signed PDF telling ``story``: the one already made for this very
    content, else a new one, signed by Pixel Sceau and recorded in the audit
    trail as ``dossier_preuve.emis`` by ``actor``."""
    digest = story.content_sha256
    kept = _kept(runtime, story.subject, digest)
    if kept is not None and kept.pdf:
        return kept

    now = now or utcnow()
    evidence_id = kept.id if kept is not None else new_evidence_id(now)
    outcome = sign_as_service(
        runtime,
        render_evidence_pdf(story, evidence_id=evidence_id, issued_at=now),
        f"Dossier de preuve {evidence_id} ({story.subject})",
    )
    signed_ref = outcome.record.ref
    try:
        with runtime.db.transaction() as session:
            if kept is None:
                session.add(
                    EvidenceFile(
                        id=evidence_id,
                        subject=story.subject,
                        client_id=story.client_id,
                        content_sha256=digest,
                        signature_ref=signed_ref,
                        created_at=now,
                    )
                )
                session.flush()
            else:
                # The story's PDF outlived its retention: the same file again,
                # signed anew.
                session.execute(
                    update(EvidenceFile)
                    .where(EvidenceFile.id == evidence_id)
                    .values(signature_ref=signed_ref)
                )
            record(
                session,
                actions.DOSSIER_PREUVE_EMIS,
                actor=actor,
                subject=evidence_id,
                objects={
                    story.kind: story.subject,
                    "dossier": evidence_id,
                    "signature_dossier": signed_ref,
                },
                hashes={"contenu": digest, "signe": outcome.record.sha256_signed},
                client_id=story.client_id,
                now=now,
            )
    except IntegrityError:
        # Another request made the same story's file first: theirs is the
        # one. The PDF signed here stays a recorded signature of the service.
        winner = _kept(runtime, story.subject, digest)
        if winner is None or not winner.pdf:
            raise
        logger.info("evidence.race_lost", extra={"subject": story.subject})
        return winner
    logger.info(
        "evidence.issued",
        extra={"evidence_id": evidence_id, "subject": story.subject},
    )
    return IssuedEvidence(evidence_id, signed_ref, outcome.signed_pdf, new=True)


def _kept(runtime: Runtime, subject: str, digest: str) -> IssuedEvidence | None:
    """The file already made for this content, with its PDF if still kept
    (empty when its retention is over)."""
    with runtime.db.sessions() as session:
        found = session.scalar(
            select(EvidenceFile).where(
                EvidenceFile.subject == subject,
                EvidenceFile.content_sha256 == digest,
            )
        )
        if found is None:
            return None
        signed = session.get(SignatureRecord, found.signature_ref)
        pdf = None
        if signed is not None and signed.keep_until > utcnow():
            pdf = session.scalar(
                select(SignedDocument.pdf).where(
                    SignedDocument.ref == found.signature_ref
                )
            )
        return IssuedEvidence(found.id, found.signature_ref, pdf or b"", new=False)
