"""What can go wrong with clients and their keys."""

from sceau.errors import NotFound, Unauthenticated


class ApiKeyMissing(Unauthenticated):
    code = "cle_api_manquante"
    message = (
        "L'en-tête X-Identity-API-Key est absent ou vide : joignez la clé d'API "
        "délivrée."
    )


class ApiKeyInvalid(Unauthenticated):
    code = "cle_api_invalide"
    message = "La clé d'API est inconnue ou révoquée."


class ClientNotFound(NotFound):
    code = "client_inconnu"
    message = "Ce client n'existe pas."


class ApiKeyNotFound(NotFound):
    code = "cle_api_inconnue"
    message = "Cette clé d'API n'existe pas."
