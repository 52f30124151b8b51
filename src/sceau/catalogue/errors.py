"""What can go wrong with a client's catalogue of act kinds."""

from __future__ import annotations

from sceau.errors import Conflict, Unprocessable


class UnknownActType(Unprocessable):
    code = "type_acte_inconnu"
    message = "Ce type d'acte n'est pas au catalogue du client."


class InvalidCatalogue(Unprocessable):
    code = "catalogue_invalide"
    message = "Le catalogue des types d'actes est invalide."


class ActTypeInUse(Conflict):
    """A replacement would remove a kind that something in force still names."""

    code = "type_acte_utilise"
    message = "Ce type d'acte est encore utilisé : il ne peut pas être retiré."
