"""What can go wrong with an authority matrix: publishing one, reading one,
and a request the matrix does not allow."""

from __future__ import annotations

from sceau.errors import Conflict, Forbidden, NotFound, Unprocessable


class InvalidMatrix(Unprocessable):
    """The message names the rule at fault (« Règle R3 : … »)."""

    code = "matrice_invalide"
    message = "La matrice d'autorité est invalide."


class MatrixNotFound(NotFound):
    code = "matrice_absente"
    message = (
        "Ce client n'a pas de matrice d'autorité : publiez-en une avec "
        "PUT /api/v1/sceau/b2b/matrice."
    )


class MatrixVersionNotFound(NotFound):
    code = "version_matrice_inconnue"
    message = "Ce client n'a pas de matrice d'autorité de ce numéro de version."


class NoMatrixToDecide(Conflict):
    """Asked to let the matrix choose the mode when there is no matrix."""

    code = "matrice_absente"
    message = (
        "Ce client n'a pas de matrice d'autorité : elle ne peut pas désigner le "
        "mode ni le signataire. Indiquez-les dans la demande, ou publiez une "
        "matrice (PUT /api/v1/sceau/b2b/matrice)."
    )


class PublishConflict(Conflict):
    code = "conflit"
    message = (
        "Une autre version de la matrice d'autorité a été publiée au même "
        "moment : relisez la matrice en vigueur, puis renvoyez la requête."
    )


class ActTypeRequired(Unprocessable):
    code = "type_acte_requis"
    message = (
        "Ce client a une matrice d'autorité : chaque demande indique son "
        "type_acte et son montant (entier, en FCFA)."
    )


class AmountRequired(Unprocessable):
    code = "montant_requis"
    message = (
        "La matrice d'autorité fait dépendre ce type d'acte du montant : "
        "indiquez montant (entier, en FCFA)."
    )


class InvalidAmount(Unprocessable):
    code = "montant_invalide"
    message = "montant est un nombre entier de francs CFA, de 0 à 10¹⁵."


class OutsideMatrix(Forbidden):
    """No rule covers the act kind and amount: nothing may sign it."""

    code = "hors_matrice"
    message = "Aucune règle de la matrice d'autorité ne couvre cette demande."


class AgainstMatrix(Forbidden):
    """A rule covers the request, and names another mode or signer."""

    code = "contraire_a_la_matrice"
    message = "La matrice d'autorité prévoit un autre mode ou un autre signataire."


class MatrixReviewOverdue(Forbidden):
    code = "matrice_a_revoir"
    message = (
        "La date de revue de la matrice d'autorité est passée et sa politique "
        "est de refuser les demandes : publiez une version revue."
    )
