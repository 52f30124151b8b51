"""The authority matrix API's request and answers, with French field names.

The request is read loosely (``MatrixBody``) so that every fault in a rule is
reported by the service, naming the rule (« Règle R3 : … »); ``MatrixRequest``
documents it for the OpenAPI description.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sceau.authority.rules import MAX_RULES, Rule
from sceau.authority.service import MatrixVersion

MATRIX_REQUEST_EXAMPLE: dict[str, Any] = {
    "regles": [
        {
            "type_acte": "attestation",
            "mode": "systeme",
            "code_09": "09S-ATLANTASYS-X",
        },
        {
            "type_acte": "police_assurance",
            "montant_max": 5_000_000,
            "mode": "deleguee",
            "code_09": "09-DIALLOMOUSSA-Q",
        },
        {
            "type_acte": "police_assurance",
            "montant_min": 5_000_000,
            "mode": "humaine",
            "code_09": "09-DIALLOMOUSSA-Q",
        },
    ],
    "revue_le": "2027-11-30",
    "politique_revue": "avertir",
}

Mode = Literal["systeme", "deleguee", "humaine"]
Policy = Literal["avertir", "refuser"]


class RuleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type_acte: str = Field(description="Code du catalogue des types d'actes.")
    montant_min: int = Field(
        default=0, ge=0, description="Montant minimal, inclus, en FCFA (0 par défaut)."
    )
    montant_max: int | None = Field(
        default=None,
        description="Montant maximal, exclu, en FCFA ; null : sans plafond.",
    )
    mode: Mode = Field(description="Mode de signature prescrit.")
    code_09: str | None = Field(
        default=None,
        description="Signataire prescrit : 09S-… en mode systeme, 09-… en modes "
        "deleguee et humaine ; null : toute identité du client du bon type.",
    )
    numero: str | None = Field(
        default=None,
        description="Ignoré : les règles sont numérotées R1, R2… dans l'ordre.",
    )


class MatrixRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [MATRIX_REQUEST_EXAMPLE]}
    )

    regles: list[RuleRequest] = Field(
        max_length=MAX_RULES, description="Les règles, dans l'ordre de leur numéro."
    )
    revue_le: date = Field(
        description="Date de la prochaine revue : à venir, dans les 13 mois."
    )
    politique_revue: Policy = Field(
        default="avertir",
        description="Passé revue_le : avertir (les demandes passent, avec un "
        "en-tête X-Pixel-Avertissement) ou refuser (matrice_a_revoir).",
    )


class MatrixBody(BaseModel):
    """What the route parses: the rules as they come, for the service."""

    model_config = ConfigDict(extra="forbid")

    regles: list[Any]
    revue_le: date
    politique_revue: str = "avertir"


class RuleView(BaseModel):
    numero: str
    type_acte: str
    montant_min: int
    montant_max: int | None
    mode: Mode
    code_09: str | None

    @classmethod
    def of(cls, rule: Rule) -> RuleView:
        return cls.model_validate(rule.as_json())


class VersionSummary(BaseModel):
    version: int
    revue_le: date
    politique_revue: Policy
    publiee_le: datetime
    auteur: str = Field(description="operateur, ou api:<identifiant de la clé>.")
    nombre_regles: int
    en_vigueur: bool = Field(description="Vrai pour la version la plus récente.")

    @classmethod
    def of(cls, matrix: MatrixVersion, *, in_force: bool) -> VersionSummary:
        return cls(
            version=matrix.version,
            revue_le=matrix.review_due,
            politique_revue=matrix.overdue_policy,  # type: ignore[arg-type]
            publiee_le=matrix.created_at,
            auteur=matrix.author,
            nombre_regles=len(matrix.rules),
            en_vigueur=in_force,
        )


class VersionList(BaseModel):
    versions: list[VersionSummary] = Field(description="La plus récente d'abord.")


class MatrixView(BaseModel):
    version: int
    regles: list[RuleView]
    revue_le: date
    politique_revue: Policy
    en_retard: bool = Field(
        description="Vrai quand la version en vigueur a passé sa date de revue."
    )
    en_vigueur: bool
    publiee_le: datetime
    auteur: str

    @classmethod
    def of(cls, matrix: MatrixVersion, *, in_force: bool) -> MatrixView:
        return cls(
            version=matrix.version,
            regles=[RuleView.of(rule) for rule in matrix.rules],
            revue_le=matrix.review_due,
            politique_revue=matrix.overdue_policy,  # type: ignore[arg-type]
            # Only the version in force can be late: the others were replaced.
            en_retard=matrix.overdue and in_force,
            en_vigueur=in_force,
            publiee_le=matrix.created_at,
            auteur=matrix.author,
        )


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` written in place, for an
    OpenAPI request body (where ``#/$defs/…`` would point nowhere)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
