from sceau.errors import BadRequest, Conflict, Unprocessable


class IdempotencyKeyMalformed(BadRequest):
    code = "cle_idempotence_invalide"
    message = (
        "L'en-tête Idempotency-Key doit compter de 1 à 255 caractères ASCII "
        "imprimables."
    )


class IdempotencyKeyReused(Unprocessable):
    code = "cle_idempotence_reutilisee"
    message = (
        "Cette clé d'idempotence a déjà servi pour une requête différente : "
        "utilisez une nouvelle clé pour une nouvelle requête."
    )


class RequestInProgress(Conflict):
    code = "requete_en_cours"
    message = (
        "Une requête avec cette clé d'idempotence est encore en cours : "
        "réessayez dans quelques secondes."
    )

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message)
        # A few seconds: by then the first attempt has answered, or, if it
        # died, its hold on the key is nearer to running out.
        self.headers = {"Retry-After": str(retry_after)}
