"""What can go wrong when an evidence file is asked for."""

from __future__ import annotations

from sceau.errors import Forbidden


class EvidenceLinkInvalid(Forbidden):
    """The public link's capability is missing, forged or past its hour: the
    reference alone never opens an evidence file."""

    code = "lien_dossier_invalide"
    message = (
        "Ce lien vers le dossier de preuve est invalide ou expiré : déposez à "
        "nouveau le document signé sur la page de vérification pour en obtenir "
        "un nouveau."
    )
