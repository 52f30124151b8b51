"""The delegation API's request and answer, with French field names."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sceau.delegations.envelope import DEFAULT_TIME_ZONE, envelope_json
from sceau.delegations.service import DelegationState

DELEGATION_REQUEST_EXAMPLE: dict[str, Any] = {
    "code_09": "09-KONEAWA01-7",
    "types_acte": ["police_assurance"],
    "montant_max": 5000000,
    "montant_max_inclus": False,
    "jours": ["lundi", "mardi", "mercredi", "jeudi", "vendredi"],
    "heure_debut": "08:00",
    "heure_fin": "18:00",
    "fuseau_horaire": "Africa/Abidjan",
    "valide_du": "2026-12-07",
    "valide_au": "2027-12-06",
    "quota_journalier": 200,
}


class DelegationRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [DELEGATION_REQUEST_EXAMPLE]}
    )

    code_09: str = Field(
        max_length=100,
        description="Le délégant : un dirigeant ou mandataire du client (09-…).",
    )
    types_acte: list[str] = Field(
        min_length=1,
        max_length=50,
        description="Types d'actes autorisés, parmi ceux du catalogue du client.",
    )
    montant_max: int | None = Field(
        default=None,
        ge=1,
        le=10**15,
        description="Plafond du montant de chaque acte, en francs CFA (XOF) ; null : "
        "sans plafond.",
    )
    montant_max_inclus: bool = Field(
        default=False,
        description="false (par défaut) : le montant doit être strictement inférieur "
        "au plafond, comme « inférieur à 5 millions » ; true : il peut l'égaler.",
    )
    jours: list[str] = Field(
        min_length=1,
        max_length=7,
        description="Jours autorisés : lundi, mardi, mercredi, jeudi, vendredi, "
        "samedi, dimanche.",
    )
    heure_debut: str = Field(
        description="Début de la plage horaire, incluse (HH:MM, heure locale)."
    )
    heure_fin: str = Field(
        description="Fin de la plage horaire, exclue (HH:MM ; 24:00 pour minuit)."
    )
    fuseau_horaire: str = Field(
        default=DEFAULT_TIME_ZONE,
        max_length=64,
        description="Fuseau des jours et des heures (nom IANA).",
    )
    valide_du: date = Field(description="Premier jour de validité (inclus).")
    valide_au: date = Field(description="Dernier jour de validité (inclus).")
    quota_journalier: int | None = Field(
        default=None,
        ge=1,
        le=10**6,
        description="Nombre maximal de signatures par jour ; null : sans limite.",
    )


class DelegationView(BaseModel):
    ref_delegation: str
    statut: Literal["a_signer", "active", "refusee", "annulee", "revoquee", "expiree"]
    code_09: str
    nom_delegant: str
    client: str
    enveloppe: dict[str, Any]
    description: list[str]
    sha256_document: str
    cree_le: datetime
    signee_le: datetime | None
    fin_le: datetime | None
    ref_signature: str | None
    motif_refus: str | None

    @classmethod
    def of(cls, state: DelegationState) -> DelegationView:
        delegation = state.delegation
        ended = delegation.ended_at
        if ended is None and state.status == "expiree":
            ended = state.envelope.ends_at()
        return cls(
            ref_delegation=delegation.ref,
            statut=state.status,  # type: ignore[arg-type]
            code_09=delegation.code_09,
            nom_delegant=state.person_name,
            client=state.client_name,
            enveloppe=envelope_json(state.envelope),
            description=state.description,
            sha256_document=delegation.sha256_document,
            cree_le=delegation.created_at,
            signee_le=delegation.signed_at,
            fin_le=ended,
            ref_signature=delegation.signature_ref,
            motif_refus=delegation.refusal_reason,
        )

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
