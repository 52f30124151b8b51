from __future__ import annotations

from sceau.errors import Conflict, Forbidden, TooManyRequests, Unprocessable


class TransitionInvalid(Conflict):
    code = "transition_invalide"
    message = (
        "Ce changement d'étape n'est pas permis : une intégration avance d'une "
        "étape à la fois (cadrage, convention, provisionne, pilote, production)."
    )


class AgreementInvalid(Unprocessable):
    code = "convention_invalide"
    message = "Les paramètres de la convention de service sont invalides."


class IntegrationNotOpen(Forbidden):
    code = "integration_non_ouverte"
    message = (
        "Votre intégration n'est pas encore ouverte aux signatures : elles le "
        "sont à partir de la phase pilote. Rapprochez-vous de votre contact "
        "Pixel Sceau."
    )


class PilotCapReached(TooManyRequests):
    code = "plafond_pilote_atteint"
    message = (
        "Le plafond journalier de la phase pilote est atteint ; les signatures "
        "reprennent demain (minuit UTC), ou dès le passage en production."
    )
