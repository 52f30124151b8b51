"""What can go wrong with plans, usage and invoices."""

from __future__ import annotations

from sceau.errors import Conflict, NotFound, Unprocessable


class InvoiceNotFound(NotFound):
    code = "facture_introuvable"
    message = (
        "Aucune facture de ce numéro pour ce client ; la liste de vos factures "
        "est sur /api/v1/sceau/b2b/factures."
    )


class InvoicePdfPending(Conflict):
    """The invoice is issued; its signed PDF is being attached."""

    code = "facture_en_preparation"
    message = (
        "Le PDF signé de cette facture est en cours de préparation ; "
        "réessayez dans quelques minutes."
    )


class InvalidMonth(Unprocessable):
    code = "mois_invalide"
    message = "Le mois s'écrit AAAA-MM, par exemple 2026-11."


class MonthOutOfRange(InvalidMonth):
    """Well written, but before the calendar's first month or without a day
    after it; the same code and bounds as the SLA's months."""

    message = (
        "Le mois demandé est hors du calendrier pris en charge : indiquez un "
        "mois AAAA-MM entre 0001-01 et 9999-11 (mois UTC)."
    )


class MonthNotOver(Conflict):
    code = "mois_non_termine"
    message = "Un mois se facture une fois terminé (le premier du mois suivant, UTC)."


class UnknownPlan(Unprocessable):
    code = "formule_inconnue"
    message = (
        "Formule inconnue : gratuit_notaire, pay_as_you_go, forfait ou enterprise."
    )


class InvalidTerms(Unprocessable):
    code = "conditions_invalides"
    message = (
        "La formule enterprise demande un prix unitaire, une redevance mensuelle "
        "et un volume inclus (entiers positifs ou nuls, en XOF) ; les autres "
        "formules n'en prennent pas."
    )


class InvalidCreditNote(Unprocessable):
    code = "avoir_invalide"
    message = (
        "Un avoir porte sur une facture (pas sur un avoir), pour un montant entier "
        "positif en XOF, avec un motif."
    )


class CreditExceedsInvoice(Conflict):
    code = "avoir_superieur_a_la_facture"
    message = (
        "Les avoirs d'une facture ne peuvent pas dépasser son total ; "
        "vérifiez le montant et les avoirs déjà émis."
    )
