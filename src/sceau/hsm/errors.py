from sceau.errors import ServiceUnavailable

# Seconds a client is told to wait: the pool tries the token again about
# once a second, so a token back in service answers the next retry.
RETRY_AFTER_SECONDS = 5
# A key missing from the token is not back in seconds: an operator must put
# it back or mend the configuration.
KEY_MISSING_RETRY_AFTER_SECONDS = 3600


class HsmUnavailable(ServiceUnavailable):
    """The PKCS#11 token cannot be used: unreachable, absent or refusing the
    PIN. Nothing was signed, stored or billed."""

    code = "hsm_indisponible"
    message = (
        "Le module de sécurité matériel (HSM) qui détient les clés de signature "
        "est momentanément injoignable : rien n'a été signé, enregistré ni "
        "facturé. Réessayez dans quelques instants."
    )
    page_message = (
        "Le service de signature est momentanément indisponible : rien n'a été "
        "signé. Réessayez dans quelques instants."
    )
    retry_after = RETRY_AFTER_SECONDS


class SigningKeyMissing(HsmUnavailable):
    """The token works but does not hold the key asked for (deleted from it,
    or a record naming a key of another token), or no token is configured
    for a key that lives in one: an operator's matter, which a retry in a
    few seconds does not mend."""

    code = "cle_de_signature_introuvable"
    message = (
        "Une clé de signature est introuvable dans le module de sécurité "
        "matériel (HSM) du service : rien n'a été signé, enregistré ni "
        "facturé. Ce n'est pas un incident passager : contactez l'opérateur "
        "Pixel Sceau."
    )
    page_message = (
        "Une clé de signature du service est introuvable : rien n'a été signé. "
        "Contactez l'opérateur Pixel Sceau."
    )
    retry_after = KEY_MISSING_RETRY_AFTER_SECONDS
