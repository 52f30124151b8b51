"""Why a verification request was refused before any signature was judged.

A document that reads but whose signatures fail is not an error: it gets a
report with a verdict. These are for requests that carry no document to judge.
"""

from __future__ import annotations

from sceau.errors import NotFound, TooManyRequests, Unprocessable


class PdfUnreadable(Unprocessable):
    code = "pdf_illisible"
    message = (
        "Le fichier n'est pas un PDF lisible : envoyez le document PDF signé, "
        "complet et sans mot de passe."
    )


class DocumentMissing(Unprocessable):
    code = "document_absent"
    message = (
        "Aucun document reçu : envoyez le PDF dans le champ « fichier » "
        "(multipart/form-data) ou dans « pdf_b64 » (JSON)."
    )


class TooManyVerifications(TooManyRequests):
    code = "trop_de_verifications"
    message = (
        "Trop de vérifications depuis cette adresse : réessayez dans quelques instants."
    )


class RecordedSignatureNotFound(NotFound):
    code = "signature_inconnue"
    message = "Aucune signature apposée par Pixel Sceau ne porte cette référence."
