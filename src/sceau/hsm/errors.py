from sceau.errors import ServiceUnavailable

# Seconds a client is told to wait: the pool tries the token again about
# once a second, so a token back in service answers the next retry.
RETRY_AFTER_SECONDS = 5


class HsmUnavailable(ServiceUnavailable):
    """The PKCS#11 token cannot be used: unreachable, absent, refusing the
    PIN or missing a key. Nothing was signed, stored or billed."""

    code = "hsm_indisponible"
    message = (
        "Le module de sécurité matériel (HSM) qui détient les clés de signature "
        "est momentanément injoignable : rien n'a été signé, enregistré ni "
        "facturé. Réessayez dans quelques instants."
    )

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
