"""What can go wrong in the console: its users, their access, its forms."""

from __future__ import annotations

from sceau.errors import Forbidden, NotFound, Unauthenticated, Unprocessable


class InvalidConsoleUser(Unprocessable):
    code = "utilisateur_console_invalide"
    message = "Nom, adresse e-mail, rôle ou client invalide."


class ConsoleEmailTaken(Unprocessable):
    code = "email_deja_utilise"
    message = "Un utilisateur de la console a déjà cette adresse e-mail."


class ConsoleUserNotFound(NotFound):
    code = "utilisateur_console_inconnu"
    message = "Aucun utilisateur de la console ne porte cette adresse e-mail."


class ConsoleSessionRequired(Unauthenticated):
    code = "session_requise"
    message = "Votre session a pris fin : connectez-vous à nouveau."


class ConsolePageNotFound(NotFound):
    """Also what a client's user reads for another client's page: whether it
    exists is none of their business."""

    code = "page_introuvable"
    message = "Cette page n'existe pas, ou vous n'y avez pas accès."


class ReadOnlyRole(Forbidden):
    code = "lecture_seule"
    message = (
        "Votre rôle de lecteur permet de consulter la console, pas de la "
        "modifier : demandez cette action à un administrateur de votre compte."
    )


class OperatorOnly(Forbidden):
    code = "reserve_operateur"
    message = "Cette action est réservée à l'opérateur Pixel Sceau."


class ConsoleFormInvalid(Unprocessable):
    code = "formulaire_invalide"
    message = "Le formulaire est incomplet : vérifiez les champs et recommencez."
