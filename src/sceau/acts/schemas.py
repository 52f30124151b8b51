"""The acts API's request and answer, with the sheet's field names."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl

from sceau.acts.states import ActState

ACT_REQUEST_EXAMPLE: dict[str, Any] = {
    "code_09": "09-KONEAMINATA-7",
    "motif": "Acte de vente, lot 12, résidence Les Palmiers",
    "pdf_b64": "<PDF source encodé en base64>",
    "callback_url": "https://atlanta.example.ci/sceau/callback",
    "expire_le": "2026-06-07T18:00:00+00:00",
    "niveau": "B-LT",
}

ACT_RESPONSE_EXAMPLE: dict[str, Any] = {
    "ref_acte": "ACT-20260524-7KQ2MX",
    "statut": "en_attente",
    "code_09": "09-KONEAMINATA-7",
    "nom_signataire": "Maître Aminata Koné",
    "motif": "Acte de vente, lot 12, résidence Les Palmiers",
    "niveau": "B-LT",
    "sha256": "9f2c41d0…",
    "cree_le": "2026-05-24T09:14:03Z",
    "expire_le": "2026-06-07T18:00:00Z",
    "decide_le": None,
}


class ActRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [ACT_REQUEST_EXAMPLE]}
    )

    code_09: str = Field(
        max_length=100,
        description="Identifiant Pixel de la personne qui signera (09-…).",
    )
    motif: str = Field(
        min_length=1,
        max_length=500,
        description="Motif de l'acte, montré à la personne et inscrit dans la "
        "signature.",
    )
    pdf_b64: str = Field(description="Le PDF à signer, encodé en base64 (RFC 4648).")
    callback_url: HttpUrl | None = Field(
        default=None,
        description="Adresse https qui recevra les événements de l'acte.",
    )
    expire_le: AwareDatetime | None = Field(
        default=None,
        description="Date limite de signature (ISO 8601 avec décalage). Par "
        "défaut : 7 jours après la création.",
    )
    niveau: Literal["B-B", "B-T", "B-LT", "B-LTA"] | None = Field(
        default=None,
        description="Niveau PAdES de la signature. Par défaut : B-LT.",
    )
    type_acte: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$",
        description="Type d'acte, parmi ceux du catalogue du client ; requis quand "
        "le client a une matrice d'autorité.",
    )
    montant: int | None = Field(
        default=None,
        ge=0,
        le=10**15,
        description="Montant de l'acte en francs CFA (XOF, entier).",
    )


class ActView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ACT_RESPONSE_EXAMPLE]})

    ref_acte: str
    statut: Literal["en_attente", "signe", "refuse", "expire", "annule"]
    code_09: str
    nom_signataire: str
    motif: str
    niveau: str
    sha256: str
    cree_le: datetime
    expire_le: datetime
    decide_le: datetime | None
    ref_signature: str | None = None
    sha256_signe: str | None = None
    ref_horodatage: str | None = None
    motif_refus: str | None = None
    type_acte: str | None = None
    montant: int | None = None
    version_matrice: int | None = None

    @classmethod
    def of(cls, state: ActState) -> ActView:
        act = state.act
        signature = state.signature
        return cls(
            ref_acte=act.ref,
            statut=state.status,  # type: ignore[arg-type]
            code_09=act.code_09,
            nom_signataire=act.signer_name,
            motif=act.reason,
            niveau=act.level,
            sha256=act.sha256_source,
            cree_le=act.created_at,
            expire_le=act.expires_at,
            decide_le=state.decided_at,
            ref_signature=signature.ref if signature else None,
            sha256_signe=signature.sha256_signed if signature else None,
            ref_horodatage=signature.ref_horodatage if signature else None,
            motif_refus=act.refusal_reason,
            type_acte=act.act_type,
            montant=act.amount,
            version_matrice=act.matrix_version,
        )

    def as_json(self) -> dict[str, Any]:
        """Only the fields the act's state has: no ``ref_signature: null``
        on an act still waiting."""
        optional = (
            "ref_signature",
            "sha256_signe",
            "ref_horodatage",
            "motif_refus",
            "type_acte",
            "montant",
            "version_matrice",
        )
        return {
            name: value
            for name, value in self.model_dump(mode="json").items()
            if value is not None or name not in optional
        }
