"""Signing in the web signer: a PDF uploaded into a draft bound to the
session, reviewed page by page, then signed, exactly those bytes, with a fresh
TOTP code (``sceau.modes.human``). Also what a person signed before."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import get_args

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record as record_audit
from sceau.errors import DatabaseUnavailable, SceauError
from sceau.modes import refusals
from sceau.modes.human import (
    MODE_HUMAN,
    PersonalSignatureRequest,
    Presence,
    authentication_details,
    sign_as_person,
)
from sceau.modes.pipeline import SignatureOutcome, check_document
from sceau.people.models import Person
from sceau.runtime import Runtime
from sceau.signing.engine import Level, PdfRejected, open_pdf
from sceau.signing.errors import AppearanceInvalid, PdfUnsignable
from sceau.signing.models import SignatureRecord
from sceau.signing.seal import CORNERS, DEFAULT_CORNER, SealPlacement, place_on_page
from sceau.signing.service import get_signed_pdf
from sceau.web import preview
from sceau.web.errors import DraftNotFound, InvalidDraft, OwnSignatureNotFound
from sceau.web.models import SigningDraft, WebSession
from sceau.web.sessions import SignedIn, session_reference

LEVELS: tuple[str, ...] = get_args(Level)
MAX_REASON = 500
MAX_FILENAME = 200
HISTORY_LIMIT = 200
NO_SEAL = "aucun"
# What a notary expects: a visible seal where signatures go, at the end.
DEFAULT_SEAL = DEFAULT_CORNER


@dataclass(frozen=True)
class NewDraft:
    filename: str
    reason: str
    level: str
    pdf: bytes
    # A corner of the last page for the visible seal, or NO_SEAL.
    seal: str = DEFAULT_SEAL


def create_draft(
    runtime: Runtime, signed_in: SignedIn, new: NewDraft, *, now: datetime
) -> SigningDraft:
    """Check the upload as the signature will, and keep it for review."""
    reason = " ".join(new.reason.split())
    if not reason:
        raise InvalidDraft("Indiquez le motif de la signature.", code="motif_requis")
    if len(reason) > MAX_REASON:
        raise InvalidDraft(
            f"Le motif ne doit pas dépasser {MAX_REASON} caractères.",
            code="motif_trop_long",
        )
    if new.level not in LEVELS:
        raise InvalidDraft("Niveau de signature inconnu.", code="niveau_invalide")
    if new.seal != NO_SEAL and new.seal not in CORNERS:
        raise InvalidDraft("Emplacement du sceau inconnu.", code="sceau_invalide")
    check_document(runtime, new.pdf, None)
    pages = _readable_pages(new.pdf)
    seal = None if new.seal == NO_SEAL else new.seal
    if seal is not None:
        _check_seal_fits(new.pdf, seal)

    draft = SigningDraft(
        id="brl_" + secrets.token_hex(12),
        session_id=signed_in.session_id,
        person_id=signed_in.person_id,
        filename=_clean_filename(new.filename),
        reason=reason,
        level=new.level,
        seal=seal,
        sha256=hashlib.sha256(new.pdf).hexdigest(),
        size=len(new.pdf),
        page_count=pages,
        pdf=new.pdf,
        created_at=now,
        expires_at=now + timedelta(minutes=runtime.settings.web_draft_minutes),
    )
    with runtime.db.transaction() as session:
        session.add(draft)
    return draft


def get_draft(
    session: Session, signed_in: SignedIn, draft_id: str, *, now: datetime
) -> SigningDraft:
    """The session's own draft, still in time; another session's is unknown."""
    draft = session.scalar(
        select(SigningDraft).where(
            SigningDraft.id == draft_id,
            SigningDraft.session_id == signed_in.session_id,
            SigningDraft.expires_at > now,
        )
    )
    if draft is None:
        raise DraftNotFound()
    return draft


def draft_pdf(session: Session, draft: SigningDraft) -> bytes:
    pdf = session.scalar(select(SigningDraft.pdf).where(SigningDraft.id == draft.id))
    if pdf is None:
        raise DraftNotFound()
    return pdf


def draft_page_png(
    runtime: Runtime, signed_in: SignedIn, draft_id: str, number: int, *, now: datetime
) -> bytes:
    """Page ``number`` (from 1) of the draft, within the rendering cap."""
    dpi = runtime.settings.web_preview_dpi
    with runtime.db.sessions() as session:
        draft = get_draft(session, signed_in, draft_id, now=now)
        if not 1 <= number <= rendered_pages(runtime, draft):
            raise DraftNotFound("Cette page n'est pas affichée.", code="page_inconnue")
        cached = preview.cached_page(draft.sha256, number - 1, dpi)
        if cached is not None:
            return cached
        pdf = draft_pdf(session, draft)
    return preview.page_png(pdf, sha256=draft.sha256, index=number - 1, dpi=dpi)


def rendered_pages(runtime: Runtime, draft: SigningDraft) -> int:
    return min(draft.page_count, runtime.settings.web_preview_max_pages)


def presence_of(runtime: Runtime, signed_in: SignedIn, address: str | None) -> Presence:
    """How the person is signing, for the audit trail: the address of their
    request and the time their session logged in."""
    with runtime.db.sessions() as session:
        row = session.get(WebSession, signed_in.session_id)
    return Presence(
        address=address,
        logged_in_at=None if row is None else row.created_at,
        session_ref=session_reference(signed_in.session_id),
    )


def sign_draft(
    runtime: Runtime,
    signed_in: SignedIn,
    draft_id: str,
    *,
    totp_code: str,
    request_id: str,
    started: float,
    now: datetime,
    address: str | None = None,
) -> SignatureOutcome:
    """Sign the draft's stored bytes; the draft goes in the same transaction
    as the signature's record, so it is signed once. ``address`` is that of
    the person's request, for the audit trail."""
    with runtime.db.sessions() as session:
        draft = get_draft(session, signed_in, draft_id, now=now)
        pdf = draft_pdf(session, draft)
    presence = presence_of(runtime, signed_in, address)

    def forget_draft(session: Session, record: SignatureRecord) -> None:
        gone = session.execute(delete(SigningDraft).where(SigningDraft.id == draft.id))
        if not getattr(gone, "rowcount", 0):
            # Signed meanwhile from another tab: roll this one back.
            raise DraftNotFound()
        # The TOTP code was checked at ``now`` (``sign_as_person``'s clock).
        record_audit(
            session,
            actions.DOCUMENT_SIGNE,
            actor=Actor.person(
                signed_in.code_09, signed_in.person_id, address=presence.address
            ),
            subject=record.ref,
            objects={
                "signature": record.ref,
                "brouillon": draft.id,
                "identite": record.code_09,
            },
            hashes={"source": draft.sha256, "signe": record.sha256_signed},
            details=authentication_details(presence, now)
            | {
                "sha256_affiche": draft.sha256,
                "nom_fichier": draft.filename,
                "pages": draft.page_count,
            },
            client_id=record.client_id,
            request_id=request_id or None,
            now=record.signed_at,
        )

    return sign_as_person(
        runtime,
        PersonalSignatureRequest(
            person_id=signed_in.person_id,
            reason=draft.reason,
            pdf=pdf,
            level=draft.level,  # type: ignore[arg-type]
            totp_code=totp_code,
            request_id=request_id,
            started=started,
            seal=seal_of(draft),
            presence=presence,
            audit_objects={"brouillon": draft.id},
        ),
        within=forget_draft,
        now=now,
    )


def record_refused_signature(
    runtime: Runtime,
    signed_in: SignedIn,
    error: SceauError,
    *,
    address: str | None,
    objects: dict[str, str],
    request_id: str | None,
    now: datetime,
    details: dict[str, object] | None = None,
) -> None:
    """A signature the logged-in person asked for and did not get (a wrong
    TOTP code, a document that changed…), in the audit trail, under the
    client the person belongs to."""
    if isinstance(error, DatabaseUnavailable):
        # Neither the person's client nor the entry can be read or written.
        return
    try:
        with runtime.db.sessions() as session:
            client_id = session.scalar(
                select(Person.client_id).where(Person.id == signed_in.person_id)
            )
    except DatabaseUnavailable:
        return
    refusals.record_refused_signature(
        runtime.db,
        error,
        actor=Actor.person(signed_in.code_09, signed_in.person_id, address=address),
        objects={"identite": signed_in.code_09} | objects,
        client_id=client_id,
        request_id=request_id,
        now=now,
        details=details,
    )


def seal_of(draft: SigningDraft) -> SealPlacement | None:
    """Where the draft's seal goes: a corner of the last page, or nowhere."""
    if draft.seal is None:
        return None
    return SealPlacement(corner=draft.seal)  # type: ignore[arg-type]


def signatures_of(session: Session, signed_in: SignedIn) -> list[SignatureRecord]:
    """What the person signed in their own name, newest first."""
    return list(
        session.scalars(
            select(SignatureRecord)
            .where(
                SignatureRecord.code_09 == signed_in.code_09,
                SignatureRecord.mode == MODE_HUMAN,
            )
            .order_by(SignatureRecord.signed_at.desc(), SignatureRecord.ref)
            .limit(HISTORY_LIMIT)
        )
    )


def own_signature(session: Session, signed_in: SignedIn, ref: str) -> SignatureRecord:
    record = session.get(SignatureRecord, ref)
    if (
        record is None
        or record.code_09 != signed_in.code_09
        or record.mode != MODE_HUMAN
    ):
        raise OwnSignatureNotFound()
    return record


def own_signed_pdf(session: Session, signed_in: SignedIn, ref: str) -> bytes:
    return get_signed_pdf(session, own_signature(session, signed_in, ref))


def _readable_pages(pdf: bytes) -> int:
    try:
        open_pdf(pdf)
    except PdfRejected as exc:
        raise PdfUnsignable(exc.message, code=exc.code) from exc
    try:
        pages = preview.page_count(pdf)
    except preview.Unrenderable as exc:
        raise PdfUnsignable(
            "Le PDF est illisible ou corrompu et ne peut être affiché.",
            code="pdf_invalide",
        ) from exc
    if pages < 1:
        raise PdfUnsignable("Le PDF ne contient aucune page.", code="pdf_sans_page")
    return pages


def _check_seal_fits(pdf: bytes, corner: str) -> None:
    # Judged now rather than at signing: the person learns it before review.
    try:
        place_on_page(open_pdf(pdf), SealPlacement(corner=corner))  # type: ignore[arg-type]
    except AppearanceInvalid as exc:
        raise InvalidDraft(
            "La dernière page est trop petite pour un sceau visible : choisissez "
            "« Aucun (signature invisible) ».",
            code="sceau_trop_grand",
        ) from exc


def _clean_filename(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:MAX_FILENAME] or "document.pdf"
