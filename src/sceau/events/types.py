"""The event types the service emits, as integrators see them.

The names are French, as the API speaks; a later feature adds its type here
so that endpoints can subscribe to it.
"""

from __future__ import annotations

SIGNATURE_SIGNEE = "signature.signee"
HORODATAGE_CONFIRME = "horodatage.confirme"
ACTE_CREE = "acte.cree"
ACTE_SIGNE = "acte.signe"
ACTE_REFUSE = "acte.refuse"
ACTE_EXPIRE = "acte.expire"
ACTE_ANNULE = "acte.annule"
DELEGATION_CREEE = "delegation.creee"
DELEGATION_SIGNEE = "delegation.signee"
DELEGATION_REFUSEE = "delegation.refusee"
DELEGATION_ANNULEE = "delegation.annulee"
DELEGATION_REVOQUEE = "delegation.revoquee"
DELEGATION_REFUS = "delegation.refus"
MATRICE_REVUE_PROCHE = "matrice.revue_proche"
INTEGRATION_ETAPE = "integration.etape"
INCIDENT_OUVERT = "incident.ouvert"
INCIDENT_MIS_A_JOUR = "incident.mis_a_jour"
INCIDENT_CLOS = "incident.clos"
WEBHOOK_DESACTIVE = "webhook.desactive"
# Sent by e-mail to the person only, never to a webhook.
PERSONNE_INVITEE = "personne.invitee"
PERSONNE_VERROUILLEE = "personne.verrouillee"
PERSONNE_ACTE_A_SIGNER = "personne.acte_a_signer"
PERSONNE_ACTE_RAPPEL = "personne.acte_rappel"
PERSONNE_ACTE_ANNULE = "personne.acte_annule"
PERSONNE_DELEGATION_A_SIGNER = "personne.delegation_a_signer"
PERSONNE_DELEGATION_REFUS = "personne.delegation_refus"

DESCRIPTIONS: dict[str, str] = {
    SIGNATURE_SIGNEE: "un document a été signé",
    HORODATAGE_CONFIRME: "l'ancrage Bitcoin d'un document est confirmé",
    ACTE_CREE: "un acte attend la signature d'une personne",
    ACTE_SIGNE: "une personne a signé un acte",
    ACTE_REFUSE: "une personne a refusé de signer un acte",
    ACTE_EXPIRE: "un acte n'a pas été signé à temps",
    ACTE_ANNULE: "un acte a été annulé avant d'être signé",
    DELEGATION_CREEE: "une délégation attend la signature de son délégant",
    DELEGATION_SIGNEE: "une délégation est signée et prend effet",
    DELEGATION_REFUSEE: "une personne a refusé de signer une délégation",
    DELEGATION_ANNULEE: "une délégation a été annulée avant d'être signée",
    DELEGATION_REVOQUEE: "une personne a révoqué sa délégation",
    DELEGATION_REFUS: "une signature sortait de l'enveloppe d'une délégation",
    MATRICE_REVUE_PROCHE: "la date de revue de la matrice d'autorité approche",
    INTEGRATION_ETAPE: "l'intégration du client a franchi une étape",
    INCIDENT_OUVERT: "un incident de service est déclaré",
    INCIDENT_MIS_A_JOUR: "un incident de service est mis à jour",
    INCIDENT_CLOS: "un incident de service est clos",
    WEBHOOK_DESACTIVE: "un point de terminaison webhook a été désactivé",
    PERSONNE_INVITEE: "une personne est invitée à activer son compte",
    PERSONNE_VERROUILLEE: "le compte d'une personne est verrouillé",
    PERSONNE_ACTE_A_SIGNER: "un acte attend la signature d'une personne",
    PERSONNE_ACTE_RAPPEL: "un acte attend encore la signature d'une personne",
    PERSONNE_ACTE_ANNULE: "un acte adressé à une personne a été annulé",
    PERSONNE_DELEGATION_A_SIGNER: "une délégation attend la signature d'une personne",
    PERSONNE_DELEGATION_REFUS: "une demande hors de l'enveloppe d'une délégation",
    # sceau.billing.notices.FREE_PERIOD_ENDING, 30 and 7 days ahead.
    "formule.fin_gratuite_proche": "la période gratuite de la formule Gratuit — "
    "Notaires prend bientôt fin",
}

ALL_TYPES: tuple[str, ...] = tuple(DESCRIPTIONS)
INCIDENT_TYPES: frozenset[str] = frozenset(
    {INCIDENT_OUVERT, INCIDENT_MIS_A_JOUR, INCIDENT_CLOS}
)
