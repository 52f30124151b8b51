"""Why a request was refused before it reached its route.

Each refusal names what is missing or wrong, never which secret was close.
The ``reason`` of each class is what the refusal metric and the rate limit
count it as.
"""

from __future__ import annotations

from sceau.errors import Forbidden, TooManyRequests, Unauthenticated


class SignatureMissing(Unauthenticated):
    code = "signature_hmac_manquante"
    message = (
        "Ce client est de niveau B : chaque requête doit porter l'en-tête "
        "X-Pixel-Signature (voir le guide d'intégration)."
    )


class SignatureMalformed(Unauthenticated):
    code = "signature_hmac_malformee"
    message = (
        "L'en-tête X-Pixel-Signature est mal formé : attendu "
        "« v1;t=<secondes>;n=<nonce>;k=<hmk_…>;s=<hex> »."
    )


class SignatureOutOfWindow(Unauthenticated):
    code = "signature_hmac_hors_delai"
    message = (
        "L'horodatage de la signature est trop ancien ou dans le futur : "
        "synchronisez l'horloge du système appelant (NTP) et signez à l'envoi."
    )


class SignatureKeyUnknown(Unauthenticated):
    code = "cle_hmac_invalide"
    message = "La clé HMAC nommée dans la signature est inconnue, expirée ou révoquée."


class SignatureInvalid(Unauthenticated):
    code = "signature_hmac_invalide"
    message = (
        "La signature HMAC ne correspond pas à la requête reçue : vérifiez la "
        "chaîne canonique (méthode, hôte, chemin, requête, empreinte du corps)."
    )


class NonceReplayed(Unauthenticated):
    code = "nonce_deja_utilise"
    message = (
        "Ce nonce a déjà été utilisé : chaque requête signée doit avoir un nonce "
        "nouveau (requête rejouée refusée)."
    )


class ClientCertificateRequired(Forbidden):
    code = "certificat_client_requis"
    message = (
        "Ce client est de niveau C : la requête doit arriver en TLS mutuel avec "
        "un certificat client délivré par Pixel Sceau."
    )


class ClientCertificateUnknown(Forbidden):
    code = "certificat_client_invalide"
    message = "Le certificat client présenté n'a pas été délivré par Pixel Sceau."


class ClientCertificateRevoked(Forbidden):
    code = "certificat_client_revoque"
    message = "Le certificat client présenté est révoqué ou expiré."


class ClientCertificateMismatch(Forbidden):
    code = "certificat_autre_client"
    message = (
        "Le certificat client et la clé d'API appartiennent à des clients différents."
    )


class AddressNotAllowed(Forbidden):
    code = "adresse_non_autorisee"
    message = (
        "L'adresse source de la requête n'est pas dans la liste des adresses "
        "autorisées de ce client."
    )


class TooManyFailures(TooManyRequests):
    code = "trop_d_echecs_authentification"
    message = (
        "Trop d'échecs d'authentification depuis cette adresse : réessayez plus tard."
    )
