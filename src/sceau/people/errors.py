"""What can go wrong for a person: creation, enrolment, login."""

from __future__ import annotations

from sceau.errors import Gone, NotFound, TooManyRequests, Unauthenticated, Unprocessable


class InvalidPerson(Unprocessable):
    code = "personne_invalide"
    message = "Nom, adresse e-mail ou profession invalide."


class EmailTaken(Unprocessable):
    code = "email_deja_utilise"
    message = "Une personne est déjà enregistrée avec cette adresse e-mail."


class PersonNotFound(NotFound):
    code = "personne_inconnue"
    message = "Aucune personne ne porte ce code_09."


class EnrolmentLinkInvalid(Gone):
    code = "lien_inscription_invalide"
    message = (
        "Ce lien d'inscription n'est pas (ou plus) valable : demandez-en un "
        "nouveau à l'opérateur Pixel Sceau."
    )


class WeakPassword(Unprocessable):
    code = "mot_de_passe_faible"
    message = "Ce mot de passe est trop faible."


class WrongTotpCode(Unprocessable):
    code = "code_totp_invalide"
    message = (
        "Ce code ne correspond pas : vérifiez l'heure de votre téléphone et "
        "saisissez le code affiché maintenant."
    )


class LoginRefused(Unauthenticated):
    """One message whatever failed, so that a refusal tells nothing."""

    code = "connexion_refusee"
    message = "Identifiant, mot de passe ou code incorrect."


class AccountLocked(TooManyRequests):
    code = "compte_verrouille"
    message = (
        "Trop d'essais infructueux : le compte est verrouillé pour un moment. "
        "Réessayez plus tard ou contactez l'opérateur Pixel Sceau."
    )


class TooManyLoginAttempts(TooManyRequests):
    code = "trop_de_tentatives"
    message = (
        "Trop de tentatives de connexion depuis cette adresse ; réessayez plus tard."
    )


class TotpReplayed(Unprocessable):
    code = "code_totp_deja_utilise"
    message = (
        "Ce code a déjà servi : attendez le code suivant de votre application "
        "(il change toutes les 30 secondes)."
    )


class PersonUnavailable(Unprocessable):
    code = "personne_non_inscrite"
    message = (
        "Cette personne n'a pas encore activé son compte de signature (ou il a "
        "été réinitialisé) : elle ne peut pas signer pour l'instant."
    )
