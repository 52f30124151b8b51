from sceau.errors import (
    Gone,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unprocessable,
)


class PdfUnsignable(Unprocessable):
    """The PDF cannot be signed; the code says why (vide, tronqué, chiffré…)."""

    code = "pdf_invalide"


class PdfTooLarge(PayloadTooLarge):
    code = "pdf_trop_volumineux"


class TsaUnavailable(ServiceUnavailable):
    code = "tsa_indisponible"
    message = (
        "Aucune autorité d'horodatage n'a répondu : la signature n'a pas été "
        "apposée et rien n'a été enregistré. Réessayez dans quelques instants."
    )


class SignatureNotFound(NotFound):
    code = "signature_inconnue"
    message = "Aucune signature de ce client ne porte cette référence."


class SignedDocumentExpired(Gone):
    code = "document_expire"
    message = (
        "Le document signé n'est plus conservé (durée de conservation écoulée) ; "
        "l'enregistrement de la signature reste consultable."
    )


class ValidationDataUnavailable(ServiceUnavailable):
    code = "validation_indisponible"
    message = (
        "Les données de validation à long terme (chaîne de certificats, listes de "
        "révocation) n'ont pas pu être réunies : la signature n'a pas été apposée "
        "et rien n'a été enregistré. Réessayez plus tard ou demandez le niveau B-T."
    )
    # A certificate authority's server that failed is seldom back in seconds.
    retry_after = 60


class AppearanceInvalid(Unprocessable):
    """The visible seal asked for cannot be placed; the message says why."""

    code = "apparence_invalide"
    message = "L'apparence demandée pour le sceau est invalide."
