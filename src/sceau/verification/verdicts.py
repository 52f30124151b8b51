"""From pyHanko's findings to an ETSI EN 319 102-1 verdict and one French
sentence that a judge, a banker or a tenant understands.

pyHanko's AdES processes give the indication for the signature itself. Three
judgements are added here, because those processes leave them to the caller:

* changes made after signing that a PAdES signature does not allow (DocMDP
  difference analysis): INDETERMINATE / SIG_CONSTRAINTS_FAILURE, as the EU's
  DSS validator reports a failed DocMDP check;
* a certificate that had expired when the timestamp proves the signature was
  made: TOTAL-FAILED / EXPIRED (pyHanko's "with time" process lets it pass,
  noting that it cannot judge expiry there);
* a certificate revoked before the proven signing time: TOTAL-FAILED /
  REVOKED, the proof of time turning "cannot tell" into "after revocation".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from asn1crypto import x509 as asn1_x509
from pyhanko.sign.ades.report import AdESFailure, AdESStatus, AdESSubIndic

from sceau.verification.report import (
    FAILED,
    INDETERMINATE,
    PASSED,
    Indication,
    Integrity,
    Revocation,
    SigningTime,
    Verdict,
)

if TYPE_CHECKING:
    from pyhanko.sign.validation.status import DocumentTimestampStatus

    from sceau.verification.report import SignatureReport

_INDICATIONS: dict[AdESStatus, Indication] = {
    AdESStatus.PASSED: PASSED,
    AdESStatus.FAILED: FAILED,
    AdESStatus.INDETERMINATE: INDETERMINATE,
}
_NO_PATH = frozenset(
    {
        "NO_CERTIFICATE_CHAIN_FOUND",
        "CHAIN_CONSTRAINTS_FAILURE",
        "CERTIFICATE_CHAIN_GENERAL_FAILURE",
    }
)


def day(moment: datetime | None) -> str:
    return f"{moment:%d/%m/%Y à %H:%M} UTC" if moment else "(date inconnue)"


def for_signature(
    sub: AdESSubIndic,
    *,
    signer: asn1_x509.Certificate,
    integrity: Integrity,
    signing_time: SigningTime,
    revocation: Revocation,
    foreign: bool,
) -> Verdict:
    """``foreign``: the certificate was not issued by the Pixel Sceau CA."""
    subject = signer.subject.native
    who = subject.get("common_name") or "le signataire"
    if subject.get("serial_number"):
        who = f"{who} ({subject['serial_number']})"
    not_after = signer["tbs_certificate"]["validity"]["not_after"].native
    proven = signing_time.timestamp if signing_time.timestamp_trusted else None
    indication = _INDICATIONS[sub.status]
    name = None if sub.status is AdESStatus.PASSED else sub.standard_name

    if foreign and name in _NO_PATH:
        # However pyHanko words it (a self-signed certificate is a "chain
        # constraint" to it), a certificate of another authority has no chain
        # to our root: that is what ETSI's sub-indication says.
        name = "NO_CERTIFICATE_CHAIN_FOUND"

    # What the AdES process cannot see, most serious first.
    if indication != FAILED:
        if proven is not None and proven > not_after:
            indication, name = FAILED, "EXPIRED"
        elif (
            name == "REVOKED_NO_POE"
            and proven is not None
            and revocation.revoked_at is not None
            and proven >= revocation.revoked_at
        ):
            indication, name = FAILED, AdESFailure.REVOKED.standard_name
        elif integrity.coverage in ("partielle", "inconnue"):
            indication, name = FAILED, AdESFailure.FORMAT_FAILURE.standard_name
        elif integrity.modifications_allowed is False:
            indication, name = INDETERMINATE, "SIG_CONSTRAINTS_FAILURE"

    sentence = _sentence(
        indication, name, who, proven or signing_time.timestamp, not_after, revocation
    )
    return Verdict(indication, name, sentence)


def _sentence(
    indication: Indication,
    name: str | None,
    who: str,
    when: datetime | None,
    not_after: datetime,
    revocation: Revocation,
) -> str:
    if indication == PASSED:
        sentence = (
            f"Signature valide : le document a été signé par {who}"
            + (f" le {day(when)}" if when else "")
            + " avec un certificat délivré par Pixel Sceau, et il n'a pas été "
            "modifié depuis."
        )
        if revocation.revoked_at is not None:
            sentence += (
                f" Le certificat a été révoqué depuis, le {day(revocation.revoked_at)}"
                " ; la signature, antérieure, reste valable."
            )
        return sentence

    sentences = {
        "HASH_FAILURE": "Signature invalide : le document a été modifié après sa "
        f"signature ; son contenu n'est plus celui que {who} a signé.",
        "SIG_CRYPTO_FAILURE": "Signature invalide : la signature ne correspond pas "
        "au certificat qu'elle présente ; elle a été altérée ou falsifiée.",
        "FORMAT_FAILURE": "Signature illisible : elle est mal formée ou incomplète "
        "et ne peut pas être vérifiée.",
        "REVOKED": f"Signature invalide : elle a été faite le {day(when)} avec un "
        f"certificat révoqué le {day(revocation.revoked_at)}, donc après qu'il a "
        "cessé d'être valable.",
        "REVOKED_NO_POE": "Signature non concluante : le certificat du signataire "
        f"a été révoqué le {day(revocation.revoked_at)} et rien ne prouve que la "
        "signature est antérieure à cette date.",
        "EXPIRED": f"Signature invalide : elle a été faite le {day(when)}, après "
        f"l'expiration du certificat du signataire le {day(not_after)}.",
        "OUT_OF_BOUNDS_NO_POE": "Signature non concluante : le certificat du "
        f"signataire a expiré le {day(not_after)} et aucun horodatage ne prouve "
        "que la signature a été faite avant.",
        "NOT_YET_VALID": "Signature invalide : elle a été faite avant le début de "
        "validité du certificat du signataire.",
        "NO_CERTIFICATE_CHAIN_FOUND": "La signature est mathématiquement intacte, "
        "mais son certificat a été délivré par une autorité que Pixel Sceau ne "
        "connaît pas : Pixel Sceau ne peut pas garantir l'identité du signataire.",
        "SIG_CONSTRAINTS_FAILURE": f"La signature de {who} est intacte, mais le "
        "document a été modifié après la signature d'une façon qu'une signature "
        "PAdES n'autorise pas : ce que vous voyez n'est peut-être plus ce qui a "
        "été signé.",
        "TRY_LATER": "Signature non concluante : l'état de révocation du certificat "
        "n'a pas pu être établi pour l'instant ; réessayez plus tard.",
        "REVOCATION_OUT_OF_BOUNDS_NO_POE": "Signature non concluante : l'état de "
        "révocation du certificat n'a pas pu être établi pour la date de la "
        "signature.",
    }
    return sentences.get(
        name or "",
        f"Signature non concluante ({name}) : elle n'a pas pu être entièrement "
        "vérifiée.",
    )


def for_document_timestamp(
    status: DocumentTimestampStatus, integrity: Integrity
) -> Verdict:
    when = status.timestamp
    if not status.intact:
        return Verdict(
            FAILED,
            "HASH_FAILURE",
            "Horodatage invalide : le document a été modifié après son horodatage.",
        )
    if not status.valid:
        return Verdict(
            FAILED,
            "SIG_CRYPTO_FAILURE",
            "Horodatage invalide : sa signature a été altérée ou falsifiée.",
        )
    if not status.trusted:
        sub = status.trust_problem_indic
        return Verdict(
            INDETERMINATE,
            sub.standard_name if sub else "NO_CERTIFICATE_CHAIN_FOUND",
            "Horodatage non concluant : son autorité d'horodatage n'est pas "
            "reconnue par Pixel Sceau.",
        )
    if integrity.modifications_allowed is False:
        return Verdict(
            INDETERMINATE,
            "SIG_CONSTRAINTS_FAILURE",
            "Horodatage intact, mais le document a été modifié après lui d'une "
            "façon que PAdES n'autorise pas.",
        )
    return Verdict(
        PASSED,
        None,
        f"Horodatage valide : le document existait sous cette forme le {day(when)}, "
        "ce qui prolonge la preuve des signatures qui le précèdent.",
    )


def unreadable(sub: AdESSubIndic | None) -> Verdict:
    name = sub.standard_name if sub else AdESFailure.FORMAT_FAILURE.standard_name
    indication = _INDICATIONS[sub.status] if sub else FAILED
    return Verdict(
        indication,
        name,
        "Signature illisible : elle est mal formée ou incomplète et ne peut pas "
        "être vérifiée.",
    )


def unsigned() -> Verdict:
    return Verdict(
        INDETERMINATE,
        None,
        "Ce document ne porte aucune signature électronique : rien ne permet d'en "
        "vérifier l'auteur ni de savoir s'il a été modifié.",
    )


def for_document(reports: Sequence[SignatureReport]) -> Verdict:
    """All signatures pass: the document passes; one fails: it fails; else it
    is undetermined, with the first signature that is."""
    count = len(reports)
    failed = [r for r in reports if r.verdict.indication == FAILED]
    undetermined = [r for r in reports if r.verdict.indication == INDETERMINATE]
    if failed:
        first = failed[0]
        return Verdict(
            FAILED,
            first.verdict.sub_indication,
            f"Document non valide : {len(failed)} signature(s) sur {count} "
            f"invalide(s). {first.verdict.explanation}",
        )
    if undetermined:
        first = undetermined[0]
        return Verdict(
            INDETERMINATE,
            first.verdict.sub_indication,
            f"Document non confirmé : {len(undetermined)} signature(s) sur {count} "
            f"non concluante(s). {first.verdict.explanation}",
        )
    if count == 1:
        return Verdict(PASSED, None, reports[0].verdict.explanation)
    return Verdict(
        PASSED,
        None,
        f"Document valide : ses {count} signatures et horodatages sont valides et "
        "il n'a pas été modifié depuis d'une façon qu'elles n'autorisent pas.",
    )
