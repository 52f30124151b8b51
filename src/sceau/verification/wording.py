"""A verification report in words a non-specialist reads first, then the
specialist's details: the one wording the public page and the signed PDF
report share, so that both say exactly the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sceau.verification.report import (
    FAILED,
    PASSED,
    Anchoring,
    DocumentReport,
    RecordedSignature,
    SignatureReport,
)
from sceau.verification.verdicts import day

Tone = Literal["valide", "invalide", "non_confirme", "non_signe"]
Fact = tuple[str, str]

HEADLINES: dict[Tone, str] = {
    "valide": "Document valide",
    "invalide": "Document non valide",
    "non_confirme": "Document non confirmé",
    "non_signe": "Document non signé",
}
LEVELS = {
    "B-B": "B-B — signature de base, sans horodatage",
    "B-T": "B-T — signature horodatée",
    "B-LT": "B-LT — validation à long terme",
    "B-LTA": "B-LTA — archivage à long terme",
}
MODES = {
    "systeme": "Système : le cachet d'une organisation, apposé par son logiciel",
    "deleguee": "Déléguée : au nom d'une personne, dans les limites de sa délégation",
    "humaine": "Humaine : signée par la personne elle-même, connectée à Pixel Sceau",
}
_COVERAGE = {
    "document_entier": "le document entier",
    "revision_entiere": "le document tel qu'il était à la signature (des mises à "
    "jour ont suivi)",
    "partielle": "une partie seulement du document",
    "inconnue": "inconnue",
}
_MODIFICATIONS = {
    "aucune": "aucune",
    "ajouts_validation_long_terme": "ajout de données de validation à long terme",
    "remplissage_formulaire": "remplissage de formulaire",
    "annotations": "annotations",
    "autres": "autres modifications",
    "inconnue": "inconnues",
}


@dataclass(frozen=True)
class SignatureView:
    title: str
    indication: str
    sentence: str
    facts: tuple[Fact, ...]
    details: tuple[Fact, ...]


@dataclass(frozen=True)
class ReportView:
    tone: Tone
    headline: str
    sentence: str
    sha256: str
    size: str
    verified_at: str
    signatures: tuple[SignatureView, ...]


def describe(report: DocumentReport) -> ReportView:
    if report.status == "non_signe":
        tone: Tone = "non_signe"
    elif report.verdict.indication == PASSED:
        tone = "valide"
    elif report.verdict.indication == FAILED:
        tone = "invalide"
    else:
        tone = "non_confirme"
    return ReportView(
        tone=tone,
        headline=HEADLINES[tone],
        sentence=report.verdict.explanation,
        sha256=report.sha256,
        size=f"{report.size:,} octets".replace(",", "\u202f"),
        verified_at=day(report.verified_at),
        signatures=tuple(
            _signature(number, item)
            for number, item in enumerate(report.signatures, start=1)
        ),
    )


def _signature(number: int, item: SignatureReport) -> SignatureView:
    kind = "Signature" if item.kind == "signature" else "Horodatage du document"
    return SignatureView(
        title=f"{kind} n° {number}",
        indication=item.verdict.indication,
        sentence=item.verdict.explanation,
        facts=_plain_facts(item),
        details=_details(item),
    )


def _plain_facts(item: SignatureReport) -> tuple[Fact, ...]:
    signer = item.signer
    who = signer.name or "inconnu"
    if signer.code_09:
        who = f"{who} ({signer.code_09})"
    facts: list[Fact] = [
        ("Signataire" if item.kind == "signature" else "Autorité", who),
        ("Date", _when(item)),
    ]
    if item.kind == "signature":
        facts.append(("Mode", _mode(item)))
        facts.append(("Motif", item.reason or "aucun motif indiqué"))
    facts += [
        ("Modifié depuis ?", _changed(item)),
        ("Certificat", _chain(item)),
        ("Révocation", _revocation(item)),
    ]
    if item.kind == "signature":
        facts.append(("Niveau PAdES", LEVELS.get(item.level or "", "inconnu")))
        facts.append(("Ancrage Bitcoin", anchoring_words(item.anchoring)))
    return tuple(facts)


def _when(item: SignatureReport) -> str:
    time = item.signing_time
    if time.timestamp is not None and time.timestamp_trusted:
        by = f" par {time.authority}" if time.authority else ""
        return f"le {day(time.timestamp)}, heure attestée{by} (horodatage RFC 3161)"
    if time.timestamp is not None:
        return (
            f"le {day(time.timestamp)} selon un horodatage qui n'a pas pu être vérifié"
        )
    if time.claimed is not None:
        return (
            f"le {day(time.claimed)} selon l'ordinateur du signataire "
            "(heure déclarée, non attestée)"
        )
    return "inconnue"


def _mode(item: SignatureReport) -> str:
    recorded = item.recorded
    if recorded is None:
        return "inconnu : cette signature n'a pas été enregistrée par Pixel Sceau"
    words = _mode_words(recorded.mode, recorded.delegation_ref)
    return f"{words} — référence {recorded.ref}"


def _mode_words(mode: str, delegation_ref: str | None) -> str:
    words = MODES.get(mode, mode)
    if delegation_ref:
        words += f" (délégation {delegation_ref})"
    return words


def _changed(item: SignatureReport) -> str:
    integrity = item.integrity
    if not integrity.intact:
        return "Oui : la partie signée a été modifiée."
    if integrity.modifications == "aucune":
        return "Non, le document n'a pas été modifié depuis."
    if integrity.modifications_allowed:
        return (
            "Seulement par des ajouts que la signature autorise ("
            + _MODIFICATIONS.get(integrity.modifications, integrity.modifications)
            + ")."
        )
    if integrity.modifications_allowed is False:
        return (
            "Oui, d'une façon que la signature n'autorise pas ("
            + _MODIFICATIONS.get(integrity.modifications, integrity.modifications)
            + ")."
        )
    return "Impossible à établir."


def _chain(item: SignatureReport) -> str:
    chain = item.chain
    if chain.trusted:
        return f"délivré par une autorité de confiance ({chain.anchor})"
    issuer = item.signer.issuer
    if issuer:
        return (
            f"délivré par « {issuer} », une autorité que Pixel Sceau ne reconnaît pas"
        )
    return "non vérifié"


def _revocation(item: SignatureReport) -> str:
    revocation = item.revocation
    if revocation.status == "revoque":
        return f"certificat révoqué le {day(revocation.revoked_at)}"
    if revocation.status == "non_revoque":
        return "certificat non révoqué"
    return "non vérifiée"


def anchoring_words(anchoring: Anchoring) -> str:
    if anchoring.status == "confirme" and anchoring.block_height is not None:
        when = f" le {day(anchoring.block_time)}" if anchoring.block_time else ""
        return f"confirmé dans le bloc {anchoring.block_height}{when} ({anchoring.ref})"
    if anchoring.status == "soumis":
        return f"soumis, en attente de confirmation dans un bloc ({anchoring.ref})"
    if anchoring.status == "en_attente":
        return f"en attente ({anchoring.ref})"
    if anchoring.status == "sans_objet":
        return "sans objet"
    return "non ancré par Pixel Sceau"


def _details(item: SignatureReport) -> tuple[Fact, ...]:
    integrity = item.integrity
    chain = item.chain
    details: list[Fact] = [
        ("Indication ETSI EN 319 102-1", item.verdict.indication),
        ("Sous-indication", item.verdict.sub_indication or "aucune"),
        ("Champ de signature", item.field_name),
        ("Empreinte intacte", _yes(integrity.intact)),
        ("Valeur de signature correcte", _yes(integrity.signature_valid)),
        ("Couverture", _COVERAGE.get(integrity.coverage, integrity.coverage)),
        (
            "Niveau de modification",
            _MODIFICATIONS.get(integrity.modifications, integrity.modifications),
        ),
        (
            "Modifications autorisées",
            "inconnu"
            if integrity.modifications_allowed is None
            else _yes(integrity.modifications_allowed),
        ),
        ("Chaîne de certificats", " › ".join(chain.certificates) or "aucune"),
        ("Certificat valide jusqu'au", day(chain.not_after)),
    ]
    if item.signer.organisation:
        details.append(("Organisation", item.signer.organisation))
    claimed = item.signing_time.claimed
    if claimed is not None:
        details.append(("Heure déclarée par le signataire", day(claimed)))
    if item.anchoring.explanation:
        details.append(("Ancrage, en détail", item.anchoring.explanation))
    return tuple(details)


def _yes(value: bool) -> str:
    return "oui" if value else "non"


def recorded_facts(recorded: RecordedSignature) -> tuple[Fact, ...]:
    """What the service recorded for a reference, in the page's words."""
    return (
        ("Signataire", f"{recorded.signer_name} ({recorded.code_09})"),
        ("Signé le", day(recorded.signed_at)),
        ("Mode", _mode_words(recorded.mode, recorded.delegation_ref)),
        ("Motif", recorded.reason),
        ("Niveau PAdES", LEVELS.get(recorded.level, recorded.level)),
        ("Empreinte SHA-256 du PDF signé", recorded.sha256_signed),
        ("Ancrage Bitcoin", anchoring_words(recorded.anchoring)),
    )
