"""``GET /api/v1/sceau/b2b/sla``: the client reads its own SLA indicators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.billing.service import plan_for_month
from sceau.db import utcnow
from sceau.http import ERROR_RESPONSES, frozen_now, runtime_of
from sceau.sla import service

router = APIRouter(prefix="/api/v1/sceau/b2b/sla", tags=["Niveau de service"])

Client = Annotated[AuthenticatedClient, Depends(authenticated_client)]


class IndicatorView(BaseModel):
    indicateur: str = Field(description="Code stable de l'indicateur.")
    libelle: str
    valeur: float | None = Field(description="Mesure du mois ; null sans mesure.")
    unite: str = Field(description="ms, min ou %.")
    objectif: float | None = Field(
        description="Engagement de la formule ; null sans engagement."
    )
    sens: str = Field(description="« max » : au plus l'objectif ; « min » : au moins.")
    respecte: bool | None = Field(description="null sans mesure ou sans objectif.")


class SlaView(BaseModel):
    mois: str = Field(description="Mois UTC, AAAA-MM.")
    formule: str = Field(description="Formule en vigueur pendant ce mois.")
    indicateurs: list[IndicatorView]


@router.get(
    "",
    response_model=SlaView,
    responses={
        401: ERROR_RESPONSES[401],
        422: {"description": "Mois invalide (mois_invalide)."},
    },
    summary="Consulter ses indicateurs de niveau de service",
)
async def read_sla(
    request: Request,
    client: Client,
    mois: Annotated[
        str | None,
        Query(description="Mois UTC, AAAA-MM (par défaut le mois en cours)."),
    ] = None,
) -> JSONResponse:
    """Les indicateurs du mois, mesurés jusqu'à maintenant pour le mois en
    cours, à côté des engagements de la formule en vigueur ce mois-là."""
    runtime = runtime_of(request)
    now = frozen_now(request) or utcnow()
    month = service.month_of(now) if mois is None else mois
    service.month_window(month)

    def work() -> dict[str, Any]:
        with runtime.db.sessions() as session:
            plan = plan_for_month(session, client.client_id, month)
            shown = service.indicators(
                session, runtime.settings, client.client_id, month, now=now
            )
        return {
            "mois": month,
            "formule": plan,
            "indicateurs": [service.indicator_json(indicator) for indicator in shown],
        }

    return JSONResponse(await run_in_threadpool(work))
