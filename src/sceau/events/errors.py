"""What can go wrong with events and deliveries."""

from sceau.errors import NotFound, Unprocessable


class UnknownEventTypeEmitted(ValueError):
    """A programming error: the caller emitted a type missing from ``types``."""


class DeliveryNotFound(NotFound):
    code = "livraison_inconnue"
    message = "Aucune livraison de votre client ne porte cet id."


class InvalidDeliveryFilter(Unprocessable):
    code = "filtre_invalide"
    message = "Filtre de livraisons invalide."
