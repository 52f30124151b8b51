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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sceau.acts.service import get_act
from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record
from sceau.db import iso_utc, utcnow
from sceau.documents.sealing import SERVICE_CLIENT_ID, sign_as_service
from sceau.evidence.errors import EvidenceInPreparation, PersonSignatureNotFound
from sceau.evidence.models import EvidenceFile
from sceau.evidence.pdf import render_evidence_pdf
from sceau.evidence.story import (
    DIFFUSION_PUBLIC,
    Story,
    act_story,
    public_view,
    signature_story,
)
from sceau.modes.names import MODE_DELEGATED, MODE_HUMAN
from sceau.runtime import Runtime
from sceau.signing.errors import SignatureNotFound
from sceau.signing.models import SignatureRecord, SignedDocument
from sceau.signing.service import REF_ALPHABET, REF_PATTERN, get_signature

logger = logging.getLogger(__name__)

# A new PDF is signed at most this often per subject and diffusion: each one
# is a signature of the service, kept for years, and anyone holding the
# signed document may ask. Within it, the latest PDF is served, a few seconds
# older than the story the JSON tells.
MIN_INTERVAL = timedelta(seconds=60)
# A row claimed for a PDF being signed; another request finding it younger
# than this waits (409), older it is taken to have died and signs in its stead.
PREPARING = ""
PREPARATION_TIMEOUT = timedelta(seconds=30)


def new_evidence_id(now: datetime) -> str:
    suffix = "".join(secrets.choice(REF_ALPHABET) for _ in range(8))
    return f"DPR-{now:%Y%m%d}-{suffix}"


@dataclass(frozen=True)
class IssuedEvidence:
    id: str
    signature_ref: str
    pdf: bytes


@dataclass(frozen=True)
class _Row:
    id: str
    signature_ref: str
    created_at: datetime
    # Empty while being prepared, or once the PDF's retention is over.
    pdf: bytes

    @property
    def preparing(self) -> bool:
        return self.signature_ref == PREPARING

    def issued(self) -> IssuedEvidence:
        return IssuedEvidence(self.id, self.signature_ref, self.pdf)


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


def person_signature_story(runtime: Runtime, code_09: str, ref: str) -> Story:
    """A signature the person made, or one made in their name under their
    delegation: either is theirs to prove."""
    with runtime.db.sessions() as session:
        found = session.get(SignatureRecord, ref) if REF_PATTERN.match(ref) else None
        if (
            found is None
            or found.code_09 != code_09
            or found.mode not in (MODE_HUMAN, MODE_DELEGATED)
        ):
            raise PersonSignatureNotFound()
        return signature_story(session, found)


def public_signature_story(runtime: Runtime, ref: str) -> Story:
    """For a holder of a capability the public page gave (checked before):
    the public view, addresses reduced to their network."""
    with runtime.db.sessions() as session:
        found = _any_signature(session, ref)
        return public_view(signature_story(session, found))


def signed_by_the_service(runtime: Runtime, refs: list[str]) -> set[str]:
    """Those of ``refs`` Pixel Sceau made for itself (reports, evidence
    files), which get no evidence file: its evidence would grow without end."""
    if not refs:
        return set()
    with runtime.db.sessions() as session:
        found = session.scalars(
            select(SignatureRecord.ref).where(
                SignatureRecord.ref.in_(refs),
                SignatureRecord.client_id == SERVICE_CLIENT_ID,
            )
        )
        return set(found)


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
    content, or the latest of the last ``MIN_INTERVAL``, else a new one,
    signed by Pixel Sceau and recorded as ``dossier_preuve.emis`` by
    ``actor``. Raises ``EvidenceInPreparation`` while another request signs
    the same content."""
    now = now or utcnow()
    digest = story.content_sha256
    kept = _kept(runtime, story.subject, digest)
    if kept is not None and kept.pdf:
        return kept.issued()
    if kept is None:
        recent = _recent(runtime, story, now)
        if recent is not None:
            return recent.issued()

    # The row is claimed first, in a transaction of its own: of two requests
    # at once, only one signs, and the other leaves no orphan signature.
    claimed = _claim(runtime, story, digest, kept, now)
    if claimed.pdf:
        return claimed.issued()
    try:
        outcome = sign_as_service(
            runtime,
            render_evidence_pdf(story, evidence_id=claimed.id, issued_at=now),
            _reason(claimed.id, story),
        )
    except BaseException:
        _release(runtime, claimed, kept)
        raise

    signed_ref = outcome.record.ref
    with runtime.db.transaction() as session:
        session.execute(
            update(EvidenceFile)
            .where(EvidenceFile.id == claimed.id)
            .values(signature_ref=signed_ref)
        )
        record(
            session,
            actions.DOSSIER_PREUVE_EMIS,
            actor=actor,
            subject=claimed.id,
            objects={
                story.kind: story.subject,
                "dossier": claimed.id,
                "signature_dossier": signed_ref,
            },
            hashes={"contenu": digest, "signe": outcome.record.sha256_signed},
            details={"diffusion": story.diffusion},
            client_id=story.client_id,
            now=now,
        )
    logger.info(
        "evidence.issued",
        extra={"evidence_id": claimed.id, "subject": story.subject},
    )
    return IssuedEvidence(claimed.id, signed_ref, outcome.signed_pdf)


def _reason(evidence_id: str, story: Story) -> str:
    if story.diffusion == DIFFUSION_PUBLIC:
        return f"Dossier de preuve {evidence_id} ({story.subject}, version publique)"
    return f"Dossier de preuve {evidence_id} ({story.subject})"


def _claim(
    runtime: Runtime, story: Story, digest: str, kept: _Row | None, now: datetime
) -> _Row:
    """The row this request signs for, marked as being prepared; or the
    PDF another request made meanwhile."""
    if kept is None:
        evidence_id = new_evidence_id(now)
        try:
            with runtime.db.transaction() as session:
                session.add(
                    EvidenceFile(
                        id=evidence_id,
                        subject=story.subject,
                        client_id=story.client_id,
                        content_sha256=digest,
                        diffusion=story.diffusion,
                        signature_ref=PREPARING,
                        created_at=now,
                    )
                )
            return _Row(evidence_id, PREPARING, now, b"")
        except IntegrityError:
            kept = _kept(runtime, story.subject, digest)
            if kept is None:
                raise
            logger.info("evidence.race_lost", extra={"subject": story.subject})
    if kept.pdf:
        return kept  # the winner's, made meanwhile

    # A row without its PDF: being prepared (taken over only once it is
    # stale), or its PDF's retention is over (the same file signed anew).
    condition = EvidenceFile.signature_ref == kept.signature_ref
    if kept.preparing:
        condition &= EvidenceFile.created_at < now - PREPARATION_TIMEOUT
    with runtime.db.transaction() as session:
        taken = session.execute(
            update(EvidenceFile)
            .where(EvidenceFile.id == kept.id, condition)
            .values(signature_ref=PREPARING, created_at=now)
        )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise EvidenceInPreparation()
    return _Row(kept.id, PREPARING, now, b"")


def _release(runtime: Runtime, claimed: _Row, kept: _Row | None) -> None:
    """Signing failed: the claim is withdrawn, so that the next request
    signs instead of waiting."""
    with runtime.db.transaction() as session:
        mine = (EvidenceFile.id == claimed.id) & (
            EvidenceFile.signature_ref == PREPARING
        )
        if kept is None or kept.preparing:
            session.execute(delete(EvidenceFile).where(mine))
        else:
            session.execute(
                update(EvidenceFile)
                .where(mine)
                .values(signature_ref=kept.signature_ref, created_at=kept.created_at)
            )


def _kept(runtime: Runtime, subject: str, digest: str) -> _Row | None:
    """The file already made (or being made) for this content, with its PDF
    if still kept."""
    with runtime.db.sessions() as session:
        found = session.scalar(
            select(EvidenceFile).where(
                EvidenceFile.subject == subject,
                EvidenceFile.content_sha256 == digest,
            )
        )
        if found is None:
            return None
        return _row(session, found)


def _recent(runtime: Runtime, story: Story, now: datetime) -> _Row | None:
    """The latest PDF of this subject and diffusion, if made within
    ``MIN_INTERVAL`` and still kept."""
    with runtime.db.sessions() as session:
        found = session.scalar(
            select(EvidenceFile)
            .where(
                EvidenceFile.subject == story.subject,
                EvidenceFile.diffusion == story.diffusion,
                EvidenceFile.created_at > now - MIN_INTERVAL,
                EvidenceFile.signature_ref != PREPARING,
            )
            .order_by(EvidenceFile.created_at.desc())
            .limit(1)
        )
        if found is None:
            return None
        row = _row(session, found)
        return row if row.pdf else None


def _row(session: Session, found: EvidenceFile) -> _Row:
    pdf = None
    if found.signature_ref != PREPARING:
        signed = session.get(SignatureRecord, found.signature_ref)
        if signed is not None and signed.keep_until > utcnow():
            pdf = session.scalar(
                select(SignedDocument.pdf).where(
                    SignedDocument.ref == found.signature_ref
                )
            )
    return _Row(found.id, found.signature_ref, found.created_at, pdf or b"")
