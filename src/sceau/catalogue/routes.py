"""``/api/v1/sceau/b2b/types-acte``: the client reads and replaces its
catalogue of act kinds, which its delegations and its authority matrix name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.authority.schemas import inline_schema
from sceau.catalogue import service
from sceau.db import utcnow
from sceau.http import (
    ERROR_RESPONSES,
    frozen_now,
    parse_body,
    read_body,
    require_json,
    runtime_of,
)

router = APIRouter(
    prefix="/api/v1/sceau/b2b/types-acte", tags=["Catalogue des types d'actes"]
)

Client = Annotated[AuthenticatedClient, Depends(authenticated_client)]

CATALOGUE_EXAMPLE: dict[str, Any] = {
    "types_acte": [
        {"code": "attestation", "libelle": "Attestations d'assurance"},
        {"code": "police_assurance", "libelle": "Polices d'assurance"},
    ]
}


class ActTypeView(BaseModel):
    code: str = Field(
        description="Ce que les demandes indiquent dans type_acte : minuscules "
        "sans accent, chiffres, « _ », « . », « - » (64 caractères au plus)."
    )
    libelle: str = Field(description="Le nom du type d'acte (200 caractères au plus).")


class Catalogue(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [CATALOGUE_EXAMPLE]}
    )

    types_acte: list[ActTypeView] = Field(max_length=service.MAX_ENTRIES)


class _CatalogueBody(BaseModel):
    """What the route parses: the entries as they come, for the service."""

    model_config = ConfigDict(extra="forbid")

    types_acte: list[Any]


@router.get(
    "",
    response_model=Catalogue,
    responses={401: ERROR_RESPONSES[401]},
    summary="Consulter son catalogue des types d'actes",
)
async def read_catalogue(request: Request, client: Client) -> JSONResponse:
    """Par ordre de code ; vide tant qu'il n'a pas été établi."""
    runtime = runtime_of(request)

    def work() -> dict[str, str]:
        with runtime.db.sessions() as session:
            return service.labels(session, client.client_id)

    return JSONResponse(_shown(await run_in_threadpool(work)))


@router.put(
    "",
    response_model=Catalogue,
    responses={
        401: ERROR_RESPONSES[401],
        409: {"description": "Un type retiré est encore utilisé (type_acte_utilise)."},
        422: {"description": "Catalogue invalide (catalogue_invalide)."},
    },
    summary="Remplacer son catalogue des types d'actes",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": inline_schema(Catalogue),
                    "examples": {"assureur": {"value": CATALOGUE_EXAMPLE}},
                }
            },
        }
    },
)
async def replace_catalogue(request: Request, client: Client) -> JSONResponse:
    """Le catalogue devient exactement la liste envoyée ; un type d'acte que la
    matrice d'autorité en vigueur, ou une délégation active ou à signer, nomme
    ne peut pas en être retiré."""
    runtime = runtime_of(request)
    require_json(request)
    body = parse_body(
        _CatalogueBody,
        await read_body(request),
        field_codes={"types_acte": "catalogue_invalide"},
    )
    entries = service.parse_entries(body.types_acte)
    now = frozen_now(request) or utcnow()

    def work() -> dict[str, str]:
        with runtime.db.transaction() as session:
            return service.replace_catalogue(session, client.client_id, entries, now)

    return JSONResponse(_shown(await run_in_threadpool(work)))


def _shown(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "types_acte": [
            {"code": code, "libelle": label} for code, label in labels.items()
        ]
    }
