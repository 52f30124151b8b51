"""What a verification finds, as plain data a page, a PDF report or the API
can render. Attribute names are English (the code's language); ``as_api``
gives the French field names the API speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Indication = Literal["TOTAL-PASSED", "TOTAL-FAILED", "INDETERMINATE"]
PASSED: Indication = "TOTAL-PASSED"
FAILED: Indication = "TOTAL-FAILED"
INDETERMINATE: Indication = "INDETERMINATE"


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@dataclass(frozen=True)
class Verdict:
    """An ETSI EN 319 102-1 indication, its sub-indication, and one sentence a
    non-specialist understands."""

    indication: Indication
    sub_indication: str | None
    explanation: str

    def as_api(self) -> dict[str, Any]:
        return {
            "indication": self.indication,
            "sous_indication": self.sub_indication,
            "explication": self.explanation,
        }


@dataclass(frozen=True)
class Signer:
    name: str | None
    code_09: str | None
    organisation: str | None
    issuer: str | None

    def as_api(self) -> dict[str, Any]:
        return {
            "nom": self.name,
            "code_09": self.code_09,
            "organisation": self.organisation,
            "emetteur": self.issuer,
        }


@dataclass(frozen=True)
class SigningTime:
    # From the RFC 3161 token: a third party's word, when it checks out.
    timestamp: datetime | None
    timestamp_trusted: bool
    authority: str | None
    # What the signer's software wrote: only a claim.
    claimed: datetime | None

    def as_api(self) -> dict[str, Any]:
        return {
            "horodatage": _time(self.timestamp),
            "horodatage_verifie": self.timestamp_trusted,
            "autorite_horodatage": self.authority,
            "declaree": _time(self.claimed),
        }


@dataclass(frozen=True)
class Integrity:
    intact: bool  # the signed bytes hash to what was signed
    signature_valid: bool  # the signature value checks out with the key
    coverage: str  # document_entier, revision_entiere, partielle, inconnue
    modifications: str  # aucune, ajouts_ltv, formulaires, annotations, autres…
    modifications_allowed: bool | None

    def as_api(self) -> dict[str, Any]:
        return {
            "intacte": self.intact,
            "signature_valide": self.signature_valid,
            "couverture": self.coverage,
            "modifications": self.modifications,
            "modifications_autorisees": self.modifications_allowed,
        }


@dataclass(frozen=True)
class Chain:
    trusted: bool
    anchor: str | None
    certificates: tuple[str, ...]
    not_after: datetime | None

    def as_api(self) -> dict[str, Any]:
        return {
            "de_confiance": self.trusted,
            "ancre": self.anchor,
            "certificats": list(self.certificates),
            "certificat_valide_jusqu_au": _time(self.not_after),
        }


@dataclass(frozen=True)
class Revocation:
    status: str  # non_revoque, revoque, inconnu, non_verifie
    revoked_at: datetime | None = None

    def as_api(self) -> dict[str, Any]:
        return {"statut": self.status, "revoque_le": _time(self.revoked_at)}


@dataclass(frozen=True)
class Anchoring:
    status: str  # en_attente, soumis, confirme, non_ancre
    ref: str | None = None
    block_height: int | None = None
    block_time: datetime | None = None
    explanation: str = ""

    def as_api(self) -> dict[str, Any]:
        block = None
        if self.block_height is not None:
            block = {"hauteur": self.block_height, "horodatage": _time(self.block_time)}
        return {
            "statut": self.status,
            "ref_horodatage": self.ref,
            "bloc": block,
            "explication": self.explanation,
        }


NOT_ANCHORED = Anchoring(
    "non_ancre", explanation="Document non ancré par Pixel Sceau dans Bitcoin."
)


@dataclass(frozen=True)
class Recorded:
    """What Pixel Sceau recorded for a signature, once the signature in the
    file is shown to be that one (same certificate, same delivered bytes)."""

    ref: str
    mode: str
    delegation_ref: str | None
    level: str


@dataclass(frozen=True)
class SignatureReport:
    kind: Literal["signature", "horodatage_document"]
    field_name: str
    verdict: Verdict
    signer: Signer
    reason: str | None
    signing_time: SigningTime
    integrity: Integrity
    chain: Chain
    revocation: Revocation
    level: str | None
    recorded: Recorded | None
    anchoring: Anchoring

    def as_api(self) -> dict[str, Any]:
        recorded = self.recorded
        return {
            "type": self.kind,
            "champ": self.field_name,
            "verdict": self.verdict.as_api(),
            "signataire": self.signer.as_api(),
            "code_09": self.signer.code_09,
            "mode": recorded.mode if recorded else None,
            "ref_signature": recorded.ref if recorded else None,
            "ref_delegation": recorded.delegation_ref if recorded else None,
            "motif": self.reason,
            "heure_signature": self.signing_time.as_api(),
            "integrite": self.integrity.as_api(),
            "chaine": self.chain.as_api(),
            "revocation": self.revocation.as_api(),
            "niveau_pades": self.level,
            "ancrage": self.anchoring.as_api(),
        }


@dataclass(frozen=True)
class DocumentReport:
    status: Literal["signe", "non_signe"]
    verdict: Verdict
    sha256: str
    size: int
    signatures: tuple[SignatureReport, ...] = field(default_factory=tuple)
    verified_at: datetime | None = None

    def as_api(self) -> dict[str, Any]:
        return {
            "statut": self.status,
            "verdict": self.verdict.as_api(),
            "sha256": self.sha256,
            "taille_octets": self.size,
            "nombre_signatures": len(self.signatures),
            "signatures": [s.as_api() for s in self.signatures],
            "verifie_le": _time(self.verified_at),
        }


@dataclass(frozen=True)
class RecordedSignature:
    """The service's own record, shown to anyone who has the reference."""

    ref: str
    signer_name: str
    code_09: str
    mode: str
    level: str
    reason: str
    signed_at: datetime
    sha256_signed: str
    anchoring: Anchoring
    delegation_ref: str | None = None

    def as_api(self) -> dict[str, Any]:
        return {
            "ref_signature": self.ref,
            "signataire": self.signer_name,
            "code_09": self.code_09,
            "mode": self.mode,
            "ref_delegation": self.delegation_ref,
            "niveau_pades": self.level,
            "motif": self.reason,
            "signe_le": _time(self.signed_at),
            "sha256_signe": self.sha256_signed,
            "ref_horodatage": self.anchoring.ref,
            "ancrage": self.anchoring.as_api(),
        }
