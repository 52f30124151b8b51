"""The B2B signing request and answer, with the sheet's field names."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from sceau.signing.seal import (
    CORNER_HEIGHT,
    CORNER_MARGIN,
    CORNER_WIDTH,
    MIN_HEIGHT,
    MIN_WIDTH,
    Corner,
)

SHEET_REQUEST_EXAMPLE: dict[str, Any] = {
    "code_09": "09S-ATLANTASYS-X",
    "nom_signataire": "Atlanta Assurances – système de production",
    "motif": "Attestation de garantie n° 2026-04231",
    "pdf_b64": "<PDF source encodé en base64>",
    "callback_url": "https://atlanta.example.ci/sceau/callback",
}

SHEET_RESPONSE_EXAMPLE: dict[str, Any] = {
    "statut": "signe",
    "ref_signature": "SIG-20260524-3F8B7C",
    "pdf_signe_b64": "<PDF signé encodé en base64>",
    "sha256_signe": "67f90d29…",
    "ref_horodatage": "HRD-MQNNT8VR",
    "duree_traitement_ms": 1842,
}


class CadreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: int = Field(description="Bord gauche du sceau, en points depuis la gauche.")
    y: int = Field(description="Bord inférieur du sceau, en points depuis le bas.")
    largeur: int = Field(
        description=f"Largeur du sceau en points ({MIN_WIDTH} au moins)."
    )
    hauteur: int = Field(
        description=f"Hauteur du sceau en points ({MIN_HEIGHT} au moins)."
    )


class ApparenceRequest(BaseModel):
    """Un sceau visible ; sans ce champ, la signature est invisible."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(
        default=-1,
        description="Page du sceau, à partir de 1 ; un nombre négatif compte "
        "depuis la fin (-1 : dernière page, la valeur par défaut).",
    )
    position: Corner | None = Field(
        default=None,
        description=f"Coin de la page où placer le sceau ({CORNER_WIDTH} × "
        f"{CORNER_HEIGHT} points, à {CORNER_MARGIN} points des bords). "
        "Par défaut : bas_droite.",
    )
    cadre: CadreRequest | None = Field(
        default=None,
        description="Cadre du sceau, en points PDF depuis le coin inférieur gauche "
        "de la page ; exclut position.",
    )


class SignRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [SHEET_REQUEST_EXAMPLE]}
    )

    code_09: str = Field(
        max_length=100,
        description="Identifiant Pixel du signataire : l'identité système (09S-…, "
        "mode Système) ou une personne (09-…, mode Déléguée, sous sa délégation).",
    )
    nom_signataire: str = Field(
        min_length=1,
        max_length=200,
        description="Libellé enregistré de l'identité, tel qu'il figure au certificat "
        "(pour une personne : son nom).",
    )
    motif: str = Field(
        min_length=1,
        max_length=500,
        description="Motif inscrit dans la signature.",
    )
    pdf_b64: str = Field(description="Le PDF à signer, encodé en base64 (RFC 4648).")
    callback_url: HttpUrl | None = Field(
        default=None,
        description="Adresse https qui recevra les notifications signées "
        "(confirmation Bitcoin…).",
    )
    niveau: Literal["B-B", "B-T", "B-LT", "B-LTA"] | None = Field(
        default=None,
        description="Niveau PAdES (ETSI EN 319 142-1). Par défaut : B-LT.",
    )
    apparence: ApparenceRequest | None = Field(
        default=None,
        description="Sceau visible (page, coin ou cadre) : nom, code 09, motif, "
        "date, référence et QR code de vérification. Par défaut : invisible.",
    )
    type_acte: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$",
        description="Type d'acte, parmi ceux du catalogue du client ; requis en mode "
        "Déléguée et quand le client a une matrice d'autorité.",
    )
    montant: int | None = Field(
        default=None,
        ge=0,
        le=10**15,
        description="Montant de l'acte en francs CFA (XOF, entier) ; requis en mode "
        "Déléguée.",
    )


class SignResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SHEET_RESPONSE_EXAMPLE]})

    statut: Literal["signe"]
    ref_signature: str
    pdf_signe_b64: str
    sha256_signe: str
    ref_horodatage: str
    duree_traitement_ms: int
    mode: Literal["deleguee"] | None = Field(
        default=None,
        description="En mode Déléguée seulement : deleguee (absent en mode Système, "
        "dont la réponse est exactement celle de la fiche).",
    )
    ref_delegation: str | None = Field(
        default=None,
        description="En mode Déléguée seulement : la délégation sous laquelle la "
        "signature est faite (DLG-…).",
    )


class SignatureView(BaseModel):
    """A signature's record, without the document."""

    ref_signature: str
    statut: Literal["signe"]
    mode: str
    niveau: str
    code_09: str
    nom_signataire: str
    motif: str
    sha256_source: str
    sha256_signe: str
    taille_source: int
    taille_signe: int
    ref_horodatage: str
    callback_url: str | None
    id_requete: str
    type_acte: str | None
    montant: int | None
    ref_delegation: str | None
    version_matrice: int | None
    signe_le: datetime
    conserve_jusqu_au: datetime
    duree_traitement_ms: int


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    erreur: ErrorDetail
