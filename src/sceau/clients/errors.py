"""What can go wrong with clients and their keys."""

from sceau.errors import NotFound, Unauthenticated, Unprocessable


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


class HmacSecretNotFound(NotFound):
    code = "cle_hmac_inconnue"
    message = "Cette clé HMAC n'existe pas."


class AllowlistInvalid(Unprocessable):
    code = "liste_adresses_invalide"
    message = "La liste d'adresses autorisées contient une entrée invalide."


class ClientCertificateNotFound(NotFound):
    code = "certificat_client_inconnu"
    message = "Aucun certificat client n'a cette empreinte ou ce numéro de série."
