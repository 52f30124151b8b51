"""What can go wrong in the web signer's pages."""

from __future__ import annotations

from sceau.errors import Forbidden, NotFound, Unauthenticated, Unprocessable


class CsrfRefused(Forbidden):
    code = "formulaire_refuse"
    message = (
        "Ce formulaire a expiré ou ne provient pas de cette page : rechargez la "
        "page et recommencez."
    )


class SessionRequired(Unauthenticated):
    code = "session_requise"
    message = "Votre session a pris fin : connectez-vous à nouveau."


class DraftNotFound(NotFound):
    code = "document_introuvable"
    message = (
        "Ce document n'est plus disponible (délai dépassé ou déjà signé) : "
        "déposez-le à nouveau."
    )


class OwnSignatureNotFound(NotFound):
    code = "signature_inconnue"
    message = "Aucune de vos signatures ne porte cette référence."


class PasswordsDiffer(Unprocessable):
    code = "mots_de_passe_differents"
    message = "Les deux mots de passe saisis ne sont pas identiques."


class InvalidDraft(Unprocessable):
    code = "formulaire_invalide"
    message = "Le formulaire est incomplet."


class PageNotShown(NotFound):
    code = "page_inconnue"
    message = "Cette page n'est pas affichée : téléchargez le document pour la lire."


class RevocationNotConfirmed(Unprocessable):
    code = "revocation_non_confirmee"
    message = (
        "Cochez la case de confirmation pour révoquer cette délégation : rien n'a "
        "été révoqué."
    )
