"""What can go wrong with an act: its creation, its reading, its decision."""

from __future__ import annotations

from sceau.errors import Conflict, NotFound, Unprocessable


class ActNotFound(NotFound):
    """Also what another client's act, or another person's, reads as."""

    code = "acte_inconnu"
    message = "Aucun acte de ce client ne porte cette référence."


class SystemIdentityNotAllowed(Unprocessable):
    code = "identite_systeme"
    message = (
        "Ce code_09 est celui d'un système : un acte est adressé à une personne "
        "(code 09-…), qui le signe elle-même. Pour signer au nom du système, "
        "utilisez POST /api/v1/sceau/b2b/signer."
    )


class InvalidExpiry(Unprocessable):
    code = "expire_le_invalide"
    message = "expire_le doit être une date à venir, dans la limite admise."


class ActAlreadyDecided(Conflict):
    """The act has left ``en_attente``: signed, refused, cancelled or expired."""

    code = "acte_deja_traite"
    message = "Cet acte n'attend plus de signature."


class ActExpired(Conflict):
    code = "acte_expire"
    message = (
        "Le délai de signature de cet acte est écoulé : il ne peut plus être "
        "signé. Demandez à l'émetteur d'en préparer un nouveau."
    )


class ActNotSigned(Conflict):
    code = "acte_non_signe"
    message = (
        "Cet acte n'est pas signé : le PDF signé n'existe qu'une fois la "
        "signature apposée (voir le statut de l'acte)."
    )


class DocumentMismatch(Unprocessable):
    """The person confirmed a document other than the one stored."""

    code = "document_different"
    message = (
        "Le document affiché n'est pas celui de l'acte (empreinte SHA-256 "
        "différente) : rien n'a été signé. Rechargez l'acte avant de signer."
    )


class InvalidRefusal(Unprocessable):
    code = "motif_refus_invalide"
    message = "Le motif du refus est obligatoire (500 caractères au plus)."


class InvalidActFilter(Unprocessable):
    code = "parametre_invalide"
