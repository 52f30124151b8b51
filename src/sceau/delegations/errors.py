"""What can go wrong with a delegation, and with a request made under one."""

from __future__ import annotations

from sceau.delegations.envelope import Crossing
from sceau.errors import Conflict, Forbidden, NotFound, Unprocessable


class DelegationNotFound(NotFound):
    """Also what another client's delegation, or another person's, reads as."""

    code = "delegation_inconnue"
    message = "Aucune délégation de ce client ne porte cette référence."


class DelegatorNotAllowed(Unprocessable):
    code = "delegant_non_habilite"
    message = (
        "Seul un dirigeant ou un mandataire (profession « dirigeant » ou "
        "« mandataire ») rattaché à ce client peut déléguer sa signature."
    )


class DelegationNotPending(Conflict):
    code = "delegation_deja_traitee"
    message = "Cette délégation n'attend plus de signature."


class DelegationNotActive(Conflict):
    code = "delegation_inactive"
    message = "Cette délégation n'est pas en vigueur : elle ne peut être révoquée."


class DelegationNotSigned(Conflict):
    code = "delegation_non_signee"
    message = (
        "Cette délégation n'est pas signée : son document signé n'existe pas (encore)."
    )


class DocumentMismatch(Conflict):
    code = "document_different"
    message = (
        "Le document affiché n'est pas celui de la délégation : rechargez la page "
        "et relisez-la avant de signer."
    )


class InvalidRefusal(Unprocessable):
    code = "motif_refus_invalide"
    message = (
        "Indiquez en quelques mots (500 caractères au plus) pourquoi vous refusez."
    )


class DelegatedFieldsMissing(Unprocessable):
    code = "champ_invalide"
    message = (
        "Signer au nom d'une personne (code 09-…) se fait sous sa délégation : "
        "type_acte et montant sont requis."
    )


class EnvelopeCrossed(Forbidden):
    """A request outside every envelope: nothing is signed, nothing billed."""

    code = "hors_enveloppe"

    def __init__(self, crossing: Crossing, delegation_ref: str | None) -> None:
        super().__init__(crossing.message)
        self.crossing = crossing
        self.delegation_ref = delegation_ref
        self.details = {"limite": crossing.limit, "ref_delegation": delegation_ref}
