"""The one error tree: every error a client can meet carries a stable code.

Codes and messages are French, as the API speaks; the message tells the caller
how to fix the request. HTTP statuses live here so that domain code never
imports the web framework.
"""

from __future__ import annotations


class SceauError(Exception):
    """Base of every error the service reports to a caller."""

    code: str = "erreur_interne"
    status: int = 500
    message: str = "Erreur interne du service."
    # Extra response headers, such as Retry-After on a 429.
    headers: dict[str, str] | None = None
    # Extra fields of the error body beside code and message, such as the
    # limit a delegated request crossed (``limite``).
    details: dict[str, object] | None = None
    # What a page (the signer's, the console) says instead of ``message``,
    # when that speaks of what only an API caller has (an idempotency key,
    # billing).
    page_message: str | None = None

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        super().__init__(self.message)

    def as_body(self) -> dict[str, dict[str, object]]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.details:
            body |= self.details
        return {"erreur": body}


PAGE_UNAVAILABLE = (
    "Le service est momentanément indisponible ; réessayez dans quelques instants."
)


class ConfigurationError(Exception):
    """The service cannot start as configured; the message names what to set."""


class BadRequest(SceauError):
    status = 400
    code = "requete_invalide"
    message = "La requête est mal formée."


class Unauthenticated(SceauError):
    status = 401
    code = "authentification_requise"
    message = "Authentification requise."


class Forbidden(SceauError):
    status = 403
    code = "acces_refuse"
    message = "Accès refusé."


class NotFound(SceauError):
    status = 404
    code = "introuvable"
    message = "Ressource introuvable."


class Gone(SceauError):
    status = 410
    code = "expire"
    message = "La ressource n'est plus conservée."


class Conflict(SceauError):
    status = 409
    code = "conflit"
    message = "La requête est en conflit avec une autre en cours."


class PayloadTooLarge(SceauError):
    status = 413
    code = "corps_trop_volumineux"
    message = "Le corps de la requête dépasse la taille autorisée."


class Unprocessable(SceauError):
    status = 422
    code = "requete_non_traitable"
    message = "La requête ne peut pas être traitée."


class TooManyRequests(SceauError):
    status = 429
    code = "trop_de_requetes"
    message = "Trop de requêtes ; réessayez plus tard."

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class ServiceUnavailable(SceauError):
    """A 503: always with ``Retry-After``, this class's ``retry_after``
    seconds unless the raiser says otherwise."""

    status = 503
    code = "service_indisponible"
    message = "Le service est momentanément indisponible ; réessayez plus tard."
    retry_after: int = 5
    # A failure that may still hide a bug of ours: logged with its trace.
    log_trace: bool = False

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, code=code)
        if retry_after is not None:
            self.retry_after = retry_after
        self.headers = {"Retry-After": str(self.retry_after)}


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached, broke the connection mid-request, or
    cancelled the request's transaction (a timeout, a deadlock): it is rolled
    back, unless the connection broke during its commit, which the database
    may have completed."""

    code = "base_indisponible"
    message = (
        "La base de données du service est momentanément indisponible. "
        "Réessayez dans quelques secondes avec la même clé d'idempotence : si "
        "la requête a tout de même abouti, cette clé renvoie son résultat, sans "
        "nouvelle signature ni nouvelle facturation."
    )
    page_message = PAGE_UNAVAILABLE

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int | None = None,
        log_trace: bool = False,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        # A failure a client may retry that may still hide a bug of ours (a
        # deadlock, a statement timeout): logged with its trace.
        self.log_trace = log_trace


class DiskFull(ServiceUnavailable):
    """The disk holding the data directory or the database is full."""

    code = "espace_disque_plein"
    message = (
        "Le disque du service est plein. Réessayez plus tard avec la même clé "
        "d'idempotence : si la requête a tout de même abouti, cette clé renvoie "
        "son résultat, sans nouvelle signature ni nouvelle facturation."
    )
    page_message = (
        "Le service ne peut rien enregistrer pour le moment (son disque est "
        "plein) ; réessayez dans quelques minutes."
    )
    retry_after = 60


class UnsupportedMediaType(SceauError):
    status = 415
    code = "type_contenu_invalide"
    message = "Le type de contenu de la requête n'est pas celui attendu."
