"""The actions the audit trail records, named as the API names things.

An action is added here before any code records it: ``record`` refuses a name
it does not know, so that a typo cannot hide an entry from every search.
"""

# ruff: noqa: S105 -- "secret_hmac.*" are action names, not secrets.

from __future__ import annotations

SIGNATURE_SIGNEE = "signature.signee"
SIGNATURE_REFUSEE = "signature.refusee"
ACTE_CREE = "acte.cree"
ACTE_CONSULTE = "acte.consulte"
ACTE_SIGNE = "acte.signe"
ACTE_REFUSE = "acte.refuse"
ACTE_EXPIRE = "acte.expire"
ACTE_ANNULE = "acte.annule"
DOCUMENT_SIGNE = "document.signe"
DELEGATION_CREEE = "delegation.creee"
DELEGATION_CONSULTEE = "delegation.consultee"
DELEGATION_SIGNEE = "delegation.signee"
DELEGATION_UTILISEE = "delegation.utilisee"
DELEGATION_REFUS = "delegation.refus"
DELEGATION_REFUSEE = "delegation.refusee"
DELEGATION_ANNULEE = "delegation.annulee"
DELEGATION_REVOQUEE = "delegation.revoquee"
CONNEXION_REUSSIE = "connexion.reussie"
CONNEXION_ECHOUEE = "connexion.echouee"
DECONNEXION = "deconnexion"
CONNEXIONS_INCONNUES = "connexions.inconnues"
COMPTE_VERROUILLE = "compte.verrouille"
COMPTE_ACTIVE = "compte.active"
PERSONNE_CREEE = "personne.creee"
COMPTE_REINITIALISE = "compte.reinitialise"
CONSOLE_CONNEXION_REUSSIE = "console.connexion.reussie"
CONSOLE_CONNEXION_ECHOUEE = "console.connexion.echouee"
CONSOLE_DECONNEXION = "console.deconnexion"
CONSOLE_UTILISATEUR_CREE = "console.utilisateur_cree"
CONSOLE_COMPTE_ACTIVE = "console.compte_active"
CLE_API_EMISE = "cle_api.emise"
CLE_API_RENOUVELEE = "cle_api.renouvelee"
CLE_API_REVOQUEE = "cle_api.revoquee"
SECRET_HMAC_EMIS = "secret_hmac.emis"
SECRET_HMAC_RENOUVELE = "secret_hmac.renouvele"
SECRET_HMAC_REVOQUE = "secret_hmac.revoque"
CERTIFICAT_CLIENT_EMIS = "certificat_client.emis"
CERTIFICAT_CLIENT_REVOQUE = "certificat_client.revoque"
ADRESSES_IP_MODIFIEES = "adresses_ip.modifiees"
CLIENT_CREE = "client.cree"
CLIENT_NIVEAU_MODIFIE = "client.niveau_modifie"
CLIENT_FORMULE_MODIFIEE = "client.formule_modifiee"
CLIENT_ETAT_MODIFIE = "client.etat_modifie"
IDENTITE_EMISE = "identite.emise"
IDENTITE_REVOQUEE = "identite.revoquee"
MATRICE_PUBLIEE = "matrice.publiee"
FACTURE_EMISE = "facture.emise"
FACTURE_PDF_SIGNE = "facture.pdf_signe"
AVOIR_EMIS = "avoir.emis"
INCIDENT_OUVERT = "incident.ouvert"
INCIDENT_MIS_A_JOUR = "incident.mis_a_jour"
INCIDENT_CLOS = "incident.clos"
JOURNAL_ANCRE = "journal.ancre"
DOSSIER_PREUVE_EMIS = "dossier_preuve.emis"

ALL: frozenset[str] = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str)
)
