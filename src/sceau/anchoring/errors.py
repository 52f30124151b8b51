"""What can go wrong when reading an anchoring back."""

from sceau.errors import NotFound, SceauError


class AnchorNotFound(NotFound):
    code = "horodatage_inconnu"
    message = "Aucun ancrage de ce client ne porte cette référence."


class ProofNotReady(SceauError):
    status = 409
    code = "preuve_pas_encore_disponible"
    message = (
        "Le document est en file d'attente : sa preuve OpenTimestamps existera "
        "dès qu'un calendrier aura reçu son lot (en général sous quelques secondes)."
    )
