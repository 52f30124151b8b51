"""What can go wrong when a request names an identity."""

from sceau.errors import Forbidden, Unprocessable


class MalformedCode(Unprocessable):
    code = "code_09_invalide"


class UnknownIdentity(Unprocessable):
    code = "identite_inconnue"
    message = "Aucune identité ne porte ce code_09."


class IdentityOfAnotherClient(Forbidden):
    code = "identite_non_autorisee"
    message = "Cette identité n'appartient pas au client authentifié par la clé d'API."


class IdentityRevoked(Forbidden):
    code = "identite_revoquee"
    message = "Cette identité est révoquée et ne peut plus signer."


class PersonalIdentity(Forbidden):
    code = "identite_personnelle"
    message = (
        "Cette identité est celle d'une personne : elle ne signe qu'à la demande "
        "de cette personne, authentifiée, jamais par une clé d'API."
    )


class SignerNameMismatch(Unprocessable):
    code = "nom_signataire_incorrect"


class CodeTaken(ValueError):
    """The operator asked for a code that already exists."""
