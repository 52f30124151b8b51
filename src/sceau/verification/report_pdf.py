"""The verification report as a French A4 PDF, signed by Pixel Sceau itself:
what a reader can keep, forward, or file with a court, and check later with
any PAdES validator."""

from __future__ import annotations

from sceau.db import utcnow
from sceau.documents.layout import FrenchPdf
from sceau.documents.sealing import SERVICE_CODE_09, SERVICE_LABEL, sign_as_service
from sceau.modes.pipeline import SignatureOutcome
from sceau.runtime import Runtime
from sceau.verification.report import DocumentReport
from sceau.verification.wording import describe

TITLE = "Rapport de vérification de signatures"


def render_report_pdf(report: DocumentReport) -> bytes:
    """The report, unsigned: the page's plain words first, then the details."""
    view = describe(report)
    document = FrenchPdf(
        title=TITLE,
        footer=f"Pixel Sceau — {TITLE.lower()} — document {report.sha256[:16]}…",
        created_at=report.verified_at or utcnow(),
    )
    document.title(TITLE)
    document.facts(
        [
            ("Empreinte SHA-256", view.sha256),
            ("Taille", view.size),
            ("Vérifié le", view.verified_at),
            ("Signatures trouvées", str(len(view.signatures))),
        ]
    )
    document.heading(view.headline)
    document.paragraph(view.sentence, size=12, bold=True)

    for signature in view.signatures:
        document.heading(signature.title)
        document.paragraph(signature.sentence)
        document.facts(signature.facts)
        document.paragraph("Détails techniques", size=9.5, bold=True)
        document.facts(signature.details)

    document.heading("Comment lire ce rapport")
    document.note(
        "Pixel Sceau a vérifié chaque signature et chaque horodatage du document "
        "avec son autorité racine (« Pixel Sceau Root CA ») et ses listes de "
        "révocation, selon la norme ETSI EN 319 102-1. Le rapport porte sur le "
        "fichier dont l'empreinte SHA-256 figure ci-dessus : un fichier dont "
        "l'empreinte diffère n'est pas celui qui a été vérifié. Ce rapport est "
        f"lui-même signé électroniquement par {SERVICE_LABEL} ({SERVICE_CODE_09}) ; "
        "sa signature peut être vérifiée par tout lecteur PDF ou sur la page "
        "publique de vérification de Pixel Sceau."
    )
    return document.output()


def signed_report_pdf(runtime: Runtime, report: DocumentReport) -> SignatureOutcome:
    """The PDF report, signed by the service's own identity."""
    return sign_as_service(
        runtime,
        render_report_pdf(report),
        f"Rapport de vérification du document SHA-256 {report.sha256}",
    )
