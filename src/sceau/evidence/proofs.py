"""The proofs outside the audit trail: the time in the signed PDF's RFC 3161
token, and the Bitcoin anchoring of its hash."""

from __future__ import annotations

import logging
from datetime import datetime
from io import BytesIO
from typing import Any

from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import generic_cms
from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.anchoring.models import AnchorBatch, AnchorRecord
from sceau.db import iso_utc
from sceau.signing.models import SignatureRecord, SignedDocument
from sceau.verification.service import FIELD_PREFIX

logger = logging.getLogger(__name__)


def _time(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


def timestamp_section(
    session: Session, record: SignatureRecord | None
) -> dict[str, Any]:
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


def anchoring_section(session: Session, anchor_ref: str | None) -> dict[str, Any]:
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
