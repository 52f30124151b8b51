"""What can go wrong when an evidence file is asked for."""

from __future__ import annotations

from sceau.errors import Conflict, Forbidden, NotFound


class EvidenceLinkInvalid(Forbidden):
    """The public link's capability is missing, forged or past its hour: the
    reference alone never opens an evidence file."""

    code = "lien_dossier_invalide"
    message = (
        "Ce lien vers le dossier de preuve est invalide ou expiré : déposez à "
        "nouveau le document signé sur la page de vérification pour en obtenir "
        "un nouveau."
    )


class PersonSignatureNotFound(NotFound):
    """Neither signed by the person nor in their name under their delegation;
    read as unknown, like the signer's other pages say it."""

    code = "signature_inconnue"
    message = "Aucune de vos signatures ne porte cette référence."


class EvidenceInPreparation(Conflict):
    """Another request is signing this very story's PDF."""

    code = "dossier_en_preparation"
    message = (
        "Ce dossier de preuve est en cours de préparation : réessayez dans "
        "quelques secondes."
    )

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": "2"}
