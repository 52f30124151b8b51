"""Public verification: every signature of a PDF judged by pyHanko against the
Pixel Sceau root and its CRLs, matched with what the service recorded, and
summed up as an ETSI EN 319 102-1 verdict.

Nothing is fetched from the network: the trust anchor and the CRLs come from
this process's PKI and the database. Signatures with a signature timestamp go
through the "validation with time" process (§5.5), the others through basic
validation (§5.3); the DocMDP difference analysis and the certificate's
validity at the proven signing time are judged on top, since pyHanko's AdES
processes leave both to the caller.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from io import BytesIO
from typing import Any

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate, AdESSubIndic
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.ades import (
    AdESBasicValidationResult,
    AdESWithTimeValidationResult,
    ades_basic_validation,
    ades_with_time_validation,
)
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import (
    EmbeddedPdfSignature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    LocalKnowledge,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    ModificationInfo,
    SignatureCoverageLevel,
    StandardCMSSignatureStatus,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer
from sqlalchemy.orm import Session

from sceau.anchoring.models import AnchorBatch, AnchorRecord
from sceau.db import utcnow
from sceau.identities.models import Identity
from sceau.pki.models import IssuedCertificate
from sceau.pki.service import build_crl
from sceau.runtime import Runtime
from sceau.signing.asn1_encoding import prepare_name_strings_once
from sceau.signing.models import SignatureRecord
from sceau.signing.service import REF_PATTERN
from sceau.verification import verdicts
from sceau.verification.errors import PdfUnreadable, RecordedSignatureNotFound
from sceau.verification.hex_strings import read_hex_strings_at_once
from sceau.verification.report import (
    NOT_ANCHORED,
    Anchoring,
    Chain,
    DocumentReport,
    Integrity,
    Recorded,
    RecordedSignature,
    Revocation,
    SignatureReport,
    Signer,
    SigningTime,
)

logger = logging.getLogger(__name__)
read_hex_strings_at_once()
# Verifications parse certificates afresh and compare their names many times.
prepare_name_strings_once()

FIELD_PREFIX = "Sceau-"
NOT_APPLICABLE = Anchoring(
    "sans_objet",
    explanation="L'ancrage porte sur les signatures, pas sur un "
    "horodatage de document.",
)
_COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: "document_entier",
    SignatureCoverageLevel.ENTIRE_REVISION: "revision_entiere",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "partielle",
    SignatureCoverageLevel.UNCLEAR: "inconnue",
}
_MODIFICATIONS = {
    ModificationLevel.NONE: "aucune",
    ModificationLevel.LTA_UPDATES: "ajouts_validation_long_terme",
    ModificationLevel.FORM_FILLING: "remplissage_formulaire",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "autres",
}


# -- trust material ------------------------------------------------------------


@dataclass(frozen=True)
class _Trust:
    """The root, the issuing CA and the CRLs as DER: parsed again for each
    verification, since asn1crypto objects are not safe to share between
    threads (see sceau.signing.engine.SigningKey)."""

    root_der: bytes
    issuing_der: bytes
    crls_der: tuple[bytes, ...]
    issuing_subject_der: bytes

    def spec(self) -> SignatureValidationSpec:
        return SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(
                    trust_roots=[asn1_x509.Certificate.load(self.root_der)]
                ),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
                certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
            ),
            local_knowledge=LocalKnowledge(
                known_crls=[
                    CRLContainer(asn1_crl.CertificateList.load(der))
                    for der in self.crls_der
                ],
                known_certs=[asn1_x509.Certificate.load(self.issuing_der)],
            ),
        )

    def context(self) -> ValidationContext:
        return ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(self.root_der)],
            other_certs=[asn1_x509.Certificate.load(self.issuing_der)],
            crls=[asn1_crl.CertificateList.load(der) for der in self.crls_der],
            allow_fetching=False,
            revocation_mode="hard-fail",
        )


def _trust(runtime: Runtime, session: Session, fresh_issuing_crl: bool) -> _Trust:
    pki = runtime.pki
    der = serialization.Encoding.DER
    root_crl, issuing_crl = pki.crls(session)
    if fresh_issuing_crl:
        # The published CRL is rebuilt once a day; a revocation the database
        # already holds must not wait for it to be shown.
        issuing_crl = build_crl(
            session, pki.issuing_cert, pki.issuing_key, "issuing"
        ).public_bytes(der)
    return _Trust(
        root_der=pki.root_cert.public_bytes(der),
        issuing_der=pki.issuing_cert.public_bytes(der),
        crls_der=(root_crl, issuing_crl),
        issuing_subject_der=pki.issuing_cert.subject.public_bytes(),
    )


# -- reading the document --------------------------------------------------------


@dataclass
class _Found:
    field_name: str
    signature: EmbeddedPdfSignature | None
    error: Exception | None = None


def _read(pdf: bytes) -> PdfFileReader:
    if b"%PDF-" not in pdf[:1024]:
        raise PdfUnreadable(
            "Le fichier n'est pas un PDF (en-tête %PDF- absent) : envoyez le "
            "document PDF signé."
        )
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        encrypted = reader.encrypted
        reader.root["/Pages"]
    except Exception as exc:
        # pyHanko raises many types (PdfReadError, KeyError, ValueError,
        # IndexError…) on a broken file; each means the same to the reader.
        logger.info("verification.unreadable", extra={"reason": type(exc).__name__})
        raise PdfUnreadable(
            "Le PDF est illisible ou corrompu (peut-être tronqué) : envoyez le "
            "fichier complet, tel qu'il a été reçu."
        ) from exc
    if encrypted:
        raise PdfUnreadable(
            "Le PDF est chiffré : Pixel Sceau ne vérifie que des documents sans "
            "mot de passe."
        )
    return reader


def _signatures(reader: PdfFileReader) -> list[_Found]:
    """Each filled signature field, in the order of the revisions; one that
    cannot be parsed is kept with its error, to be judged, not to stop the
    others from being verified."""
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:
        # Same reason as in _read: a broken form tree surfaces as any type.
        raise PdfUnreadable(
            "Les champs de signature du PDF sont illisibles : le fichier est corrompu."
        ) from exc

    found: list[_Found] = []
    for name, _, field_ref in fields:
        try:
            found.append(_Found(name, EmbeddedPdfSignature(reader, field_ref, name)))
        except Exception as exc:
            # A garbled CMS or dictionary: asn1crypto and pyHanko raise
            # ValueError, TypeError, KeyError, PdfReadError… all "unreadable".
            found.append(_Found(name, None, exc))
    return sorted(
        found, key=lambda f: f.signature.signed_revision if f.signature else 1 << 30
    )


# -- the verification ------------------------------------------------------------


def verify_pdf(runtime: Runtime, pdf: bytes) -> DocumentReport:
    """The report on every signature of ``pdf``; raises PdfUnreadable only when
    there is no document to judge."""
    now = utcnow()
    sha256 = hashlib.sha256(pdf).hexdigest()
    reader = _read(pdf)
    found = _signatures(reader)
    if not found:
        return DocumentReport(
            "non_signe", verdicts.unsigned(), sha256, len(pdf), (), now
        )

    with runtime.db.sessions() as session:
        revoked = _revoked_in_database(session, found)
        trust = _trust(runtime, session, fresh_issuing_crl=bool(revoked))
        reports = tuple(
            _report(session, reader, pdf, item, trust, revoked, found) for item in found
        )
    return DocumentReport(
        "signe", verdicts.for_document(reports), sha256, len(pdf), reports, now
    )


def _report(
    session: Session,
    reader: PdfFileReader,
    pdf: bytes,
    item: _Found,
    trust: _Trust,
    revoked: dict[int, datetime],
    found: list[_Found],
) -> SignatureReport:
    signature = item.signature
    if signature is None:
        return _unreadable(item.field_name, item.error)
    try:
        if signature.sig_object_type == "/DocTimeStamp":
            return _document_timestamp(signature, trust)
        return _signature(session, reader, pdf, signature, trust, revoked, found)
    except SignatureValidationError as exc:
        return _unreadable(item.field_name, exc, exc.ades_subindication)
    except Exception as exc:
        # Malformed input reaches pyHanko's validators as many exception
        # types; a signature that cannot be evaluated is reported as such,
        # never as a server error, and the other signatures are still judged.
        logger.info(
            "verification.signature_unreadable", extra={"reason": type(exc).__name__}
        )
        return _unreadable(item.field_name, exc)


def _signature(
    session: Session,
    reader: PdfFileReader,
    pdf: bytes,
    signature: EmbeddedPdfSignature,
    trust: _Trust,
    revoked: dict[int, datetime],
    found: list[_Found],
) -> SignatureReport:
    signature.compute_integrity_info()
    integrity_kwargs = signature.summarise_integrity_info()
    token = _timestamp_token(signature)

    # Step 1: pyHanko's AdES process, with or without a signature timestamp.
    if token is not None:
        result: AdESBasicValidationResult = asyncio.run(
            ades_with_time_validation(
                signature.signed_data,
                trust.spec(),
                raw_digest=signature.compute_digest(),
            )
        )
    else:
        result = asyncio.run(
            ades_basic_validation(
                signature.signed_data,
                trust.spec(),
                raw_digest=signature.compute_digest(),
            )
        )
    # The integrity findings stay apart from pyHanko's status: some of its
    # early answers build the plain CMS status, which refuses PDF fields.
    status = result.api_status
    assert status is None or isinstance(status, StandardCMSSignatureStatus)
    if token is not None and result.ades_subindic is AdESIndeterminate.REVOKED_NO_POE:
        # pyHanko gives this answer only once the token has checked out; the
        # best signature time is then the token's.
        assert isinstance(result, AdESWithTimeValidationResult)
        signing_time_proof: datetime | None = result.best_signature_time
    else:
        signing_time_proof = None

    # Step 2: what the file says, whatever the verdict.
    certificate = signature.signer_cert
    signing_time = _signing_time(signature, status, token)
    if signing_time_proof is not None:
        signing_time = replace(
            signing_time, timestamp=signing_time_proof, timestamp_trusted=True
        )
    integrity = _integrity(signature, status, integrity_kwargs)
    revocation = _revocation(certificate, status, revoked)
    chain = _chain(certificate, status)

    # Step 3: the verdict, with what the AdES process leaves to the caller.
    verdict = verdicts.for_signature(
        result.ades_subindic,
        signer=certificate,
        integrity=integrity,
        signing_time=signing_time,
        revocation=revocation,
        foreign=certificate.issuer.dump() != trust.issuing_subject_der,
    )

    recorded, anchoring = _recorded(session, signature, pdf)
    return SignatureReport(
        kind="signature",
        field_name=signature.field_name,
        verdict=verdict,
        signer=_signer(certificate),
        reason=_text(signature.sig_object.get("/Reason")),
        signing_time=signing_time,
        integrity=integrity,
        chain=chain,
        revocation=revocation,
        level=_level(reader, signature, token, found),
        recorded=recorded,
        anchoring=anchoring,
    )


def _document_timestamp(
    signature: EmbeddedPdfSignature, trust: _Trust
) -> SignatureReport:
    status: DocumentTimestampStatus = asyncio.run(
        async_validate_pdf_timestamp(signature, validation_context=trust.context())
    )
    certificate = signature.signer_cert
    integrity = Integrity(
        intact=status.intact,
        signature_valid=status.valid,
        coverage=_COVERAGE.get(status.coverage, "inconnue")
        if status.coverage
        else "inconnue",
        modifications=_modification_words(status.modification_level),
        modifications_allowed=status.modification_level
        in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES),
    )
    return SignatureReport(
        kind="horodatage_document",
        field_name=signature.field_name,
        verdict=verdicts.for_document_timestamp(status, integrity),
        signer=_signer(certificate),
        reason=None,
        signing_time=SigningTime(
            status.timestamp, status.trusted, _common_name(certificate.subject), None
        ),
        integrity=integrity,
        chain=_chain(certificate, status),
        revocation=Revocation(
            "revoque"
            if status.revoked
            else ("non_revoque" if status.trusted else "non_verifie")
        ),
        level=None,
        recorded=None,
        anchoring=NOT_APPLICABLE,
    )


def _unreadable(
    field_name: str, error: Exception | None, sub: AdESSubIndic | None = None
) -> SignatureReport:
    return SignatureReport(
        kind="signature",
        field_name=field_name,
        verdict=verdicts.unreadable(sub),
        signer=Signer(None, None, None, None),
        reason=None,
        signing_time=SigningTime(None, False, None, None),
        integrity=Integrity(False, False, "inconnue", "inconnue", None),
        chain=Chain(False, None, (), None),
        revocation=Revocation("non_verifie"),
        level=None,
        recorded=None,
        anchoring=NOT_ANCHORED,
    )


# -- the parts of a report -------------------------------------------------------


def _timestamp_token(signature: EmbeddedPdfSignature) -> cms.SignedData | None:
    tokens = generic_cms.extract_tst_data_iter(signature.signer_info, signed=False)
    return next(iter(tokens), None)


def _signing_time(
    signature: EmbeddedPdfSignature,
    status: StandardCMSSignatureStatus | None,
    token: cms.SignedData | None,
) -> SigningTime:
    claimed = status.signer_reported_dt if status else None
    if claimed is None:
        claimed = signature.self_reported_timestamp
    if token is None:
        return SigningTime(None, False, None, claimed)

    verified = status.timestamp_validity if status else None
    if verified is not None:
        return SigningTime(
            verified.timestamp,
            verified.trusted,
            _common_name(verified.signing_cert.subject),
            claimed,
        )
    # The token's own time, shown but not vouched for: its validation did not
    # complete (the signature failed first, or the TSA is unknown).
    info = token["encap_content_info"]["content"].parsed
    return SigningTime(info["gen_time"].native, False, None, claimed)


def _integrity(
    signature: EmbeddedPdfSignature,
    status: StandardCMSSignatureStatus | None,
    kwargs: dict[str, Any],
) -> Integrity:
    coverage = kwargs.get("coverage")
    level = ModificationInfo(
        coverage=coverage, diff_result=kwargs.get("diff_result")
    ).modification_level
    if status is None:
        # The AdES process stopped before it checked the value: nothing is
        # known about it, and the digest is checked here directly.
        intact = _digest_matches(signature)
        valid = False
    else:
        intact, valid = status.intact, status.valid
    return Integrity(
        intact=intact,
        signature_valid=valid,
        coverage=_COVERAGE.get(coverage, "inconnue") if coverage else "inconnue",
        modifications=_modification_words(level),
        modifications_allowed=kwargs.get("docmdp_ok"),
    )


def _digest_matches(signature: EmbeddedPdfSignature) -> bool:
    try:
        expected = signature.signer_info["signed_attrs"]
        for attribute in expected:
            if attribute["type"].native == "message_digest":
                return bool(attribute["values"][0].native == signature.compute_digest())
    except (KeyError, ValueError, TypeError):
        return False
    return False


def _modification_words(level: ModificationLevel | None) -> str:
    return _MODIFICATIONS.get(level, "inconnue") if level is not None else "inconnue"


def _revocation(
    certificate: asn1_x509.Certificate,
    status: StandardCMSSignatureStatus | None,
    revoked: dict[int, datetime],
) -> Revocation:
    details = status.revocation_details if status else None
    if details is not None:
        return Revocation("revoque", details.revocation_date)
    if certificate.serial_number in revoked:
        return Revocation("revoque", revoked[certificate.serial_number])
    if status is not None and status.validation_path is not None:
        return Revocation("non_revoque")
    return Revocation("non_verifie")


def _revoked_in_database(session: Session, found: list[_Found]) -> dict[int, datetime]:
    """Revocations of our own signing certificates, by serial, straight from
    the table the CRLs are built from."""
    serials = {
        format(item.signature.signer_cert.serial_number, "x")
        for item in found
        if item.signature is not None
    }
    revoked: dict[int, datetime] = {}
    for serial_hex in serials:
        issued = session.get(IssuedCertificate, serial_hex)
        if issued is not None and issued.revoked_at is not None:
            revoked[int(serial_hex, 16)] = issued.revoked_at
    return revoked


def _chain(
    certificate: asn1_x509.Certificate,
    status: StandardCMSSignatureStatus | DocumentTimestampStatus | None,
) -> Chain:
    path = status.validation_path if status else None
    if path is None or status is None or not status.trusted:
        names = (_common_name(certificate.subject), _common_name(certificate.issuer))
        return Chain(
            False,
            None,
            tuple(n for n in names if n),
            certificate["tbs_certificate"]["validity"]["not_after"].native,
        )
    certificates = [
        _common_name(c.subject) or "" for c in path.iter_certs(include_root=True)
    ]
    return Chain(
        True,
        certificates[0] if certificates else None,
        tuple(reversed(certificates)),
        certificate["tbs_certificate"]["validity"]["not_after"].native,
    )


def _signer(certificate: asn1_x509.Certificate) -> Signer:
    subject = certificate.subject.native
    return Signer(
        name=subject.get("common_name"),
        code_09=subject.get("serial_number"),
        organisation=subject.get("organization_name"),
        issuer=_common_name(certificate.issuer),
    )


def _common_name(name: asn1_x509.Name) -> str | None:
    value = name.native.get("common_name")
    return str(value) if value is not None else None


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


def _level(
    reader: PdfFileReader,
    signature: EmbeddedPdfSignature,
    token: cms.SignedData | None,
    found: list[_Found],
) -> str:
    """The PAdES baseline level the file holds for this signature: a
    signature timestamp (B-T), validation data in the DSS (B-LT), and a
    document timestamp over them (B-LTA)."""
    if token is None:
        return "B-B"
    try:
        dss = reader.root["/DSS"]
    except KeyError:
        return "B-T"
    if not isinstance(dss, generic.DictionaryObject) or not any(
        key in dss for key in ("/CRLs", "/OCSPs")
    ):
        return "B-T"
    later_stamps = [
        item
        for item in found
        if item.signature is not None
        and item.signature.sig_object_type == "/DocTimeStamp"
        and item.signature.signed_revision > signature.signed_revision
    ]
    return "B-LTA" if later_stamps else "B-LT"


# -- what Pixel Sceau recorded ---------------------------------------------------


def _recorded(
    session: Session, signature: EmbeddedPdfSignature, pdf: bytes
) -> tuple[Recorded | None, Anchoring]:
    """The record of this signature, if the field names one and the file
    shows it is that one: the certificate is the recorded identity's, and the
    document starts with exactly the bytes the service delivered."""
    name = signature.field_name or ""
    ref = name[len(FIELD_PREFIX) :] if name.startswith(FIELD_PREFIX) else ""
    if not REF_PATTERN.match(ref):
        return None, NOT_ANCHORED
    record = session.get(SignatureRecord, ref)
    if record is None:
        return None, NOT_ANCHORED

    identity = session.get(Identity, record.code_09)
    if identity is None or identity.certificate_der != signature.signer_cert.dump():
        return None, NOT_ANCHORED
    if len(pdf) < record.size_signed:
        return None, NOT_ANCHORED
    delivered = hashlib.sha256(memoryview(pdf)[: record.size_signed]).hexdigest()
    if delivered != record.sha256_signed:
        return None, NOT_ANCHORED

    recorded = Recorded(
        ref=record.ref,
        mode=record.mode,
        delegation_ref=record.delegation_ref,
        level=record.level,
    )
    return recorded, _anchoring(session, record.ref_horodatage)


def _anchoring(session: Session, anchor_ref: str) -> Anchoring:
    anchor = session.get(AnchorRecord, anchor_ref)
    if anchor is None:
        return NOT_ANCHORED
    batch = session.get(AnchorBatch, anchor.batch_id) if anchor.batch_id else None
    if anchor.status == "confirme" and batch is not None and batch.block_height:
        return Anchoring(
            "confirme",
            anchor.ref,
            batch.block_height,
            batch.block_time,
            f"Empreinte ancrée dans le bloc Bitcoin n° {batch.block_height}"
            + (f" du {verdicts.day(batch.block_time)}." if batch.block_time else "."),
        )
    if anchor.status == "soumis":
        return Anchoring(
            "soumis",
            anchor.ref,
            explanation="Empreinte remise aux calendriers OpenTimestamps ; "
            "l'inscription dans un bloc Bitcoin prend quelques heures.",
        )
    return Anchoring(
        "en_attente",
        anchor.ref,
        explanation="Ancrage dans Bitcoin en attente : l'empreinte sera inscrite "
        "dans un bloc dans les prochaines heures.",
    )


def recorded_signature(runtime: Runtime, ref: str) -> RecordedSignature:
    """What the service recorded for ``ref``; never the client, the callback
    or the document."""
    if not REF_PATTERN.match(ref):
        raise RecordedSignatureNotFound()
    with runtime.db.sessions() as session:
        record = session.get(SignatureRecord, ref)
        if record is None:
            raise RecordedSignatureNotFound()
        return RecordedSignature(
            ref=record.ref,
            signer_name=record.signer_name,
            code_09=record.code_09,
            mode=record.mode,
            level=record.level,
            reason=record.reason,
            signed_at=record.signed_at,
            sha256_signed=record.sha256_signed,
            anchoring=_anchoring(session, record.ref_horodatage),
            delegation_ref=record.delegation_ref,
        )
