"""``GET /api/v1/sceau/b2b/integration``: the client reads where its
integration stands, what was agreed, and every step it took."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.clients.service import get_client
from sceau.db import iso_utc
from sceau.http import ERROR_RESPONSES, runtime_of
from sceau.lifecycle.agreement import agreement_of
from sceau.lifecycle.pilot import pilot_terms
from sceau.lifecycle.service import OPEN_STATES, history

router = APIRouter(prefix="/api/v1/sceau/b2b/integration", tags=["Intégration"])

Client = Annotated[AuthenticatedClient, Depends(authenticated_client)]


class StepView(BaseModel):
    de: str | None = Field(description="L'étape quittée ; null à la création.")
    vers: str
    le: str = Field(description="Date et heure UTC, ISO 8601.")
    note: str | None


class IntegrationView(BaseModel):
    etape: str = Field(
        description="cadrage, convention, provisionne, pilote ou production."
    )
    signature_ouverte: bool = Field(
        description="Vrai en pilote et en production : POST /signer, /actes et "
        "/actes/auto sont acceptés."
    )
    plafond_journalier_pilote: int | None = Field(
        description="En pilote, les signatures permises par jour (UTC)."
    )
    mention_pilote: str | None = Field(
        description="En pilote, le début de chaque motif signé."
    )
    convention: dict[str, Any] | None = Field(
        description="Les paramètres de la convention de service : modes, niveau, "
        "matrice_autorite, formule, canal, plafond_pilote."
    )
    historique: list[StepView]


@router.get(
    "",
    response_model=IntegrationView,
    responses={401: ERROR_RESPONSES[401]},
    summary="Consulter l'étape de son intégration",
)
async def read_integration(request: Request, client: Client) -> JSONResponse:
    """Les étapes sont franchies par Pixel Sceau, une à la fois ; l'historique
    dit laquelle, quand, et avec quelle note. Qui les a franchies n'est pas
    montré ici."""
    runtime = runtime_of(request)

    def work() -> dict[str, Any]:
        with runtime.db.sessions() as session:
            found = get_client(session, client.client_id)
            terms = pilot_terms(session, runtime.settings, client.client_id)
            return {
                "etape": found.state,
                "signature_ouverte": found.state in OPEN_STATES,
                "plafond_journalier_pilote": terms.daily_cap if terms else None,
                "mention_pilote": terms.marker if terms else None,
                "convention": agreement_of(found),
                "historique": [
                    {
                        "de": change.from_state,
                        "vers": change.to_state,
                        "le": iso_utc(change.at),
                        "note": change.note,
                    }
                    for change in history(session, client.client_id)
                ],
            }

    return JSONResponse(await run_in_threadpool(work))
