"""What can go wrong with webhook endpoints and callback URLs."""

from sceau.errors import Conflict, NotFound, Unprocessable


class CallbackUrlRefused(Unprocessable):
    """The URL could make the service reach a place it must not (SSRF)."""

    code = "callback_url_refusee"
    message = "Cette adresse de rappel n'est pas admise."


class EndpointNotFound(NotFound):
    code = "webhook_inconnu"
    message = "Aucun point de terminaison webhook de votre client ne porte cet id."


class UnknownEventType(Unprocessable):
    code = "type_evenement_inconnu"
    message = "Type d'événement inconnu."


class EndpointDisabled(Conflict):
    code = "webhook_desactive"
    message = (
        "Ce point de terminaison est désactivé : réactivez-le avant de demander "
        "une nouvelle livraison."
    )
