"""``/api/v1/sceau/b2b/consommation`` and ``/api/v1/sceau/b2b/factures``: a
client reads its usage by month and its own invoices, as JSON and as the
PDF signed by Pixel Sceau."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.billing import invoices, service
from sceau.billing.errors import InvoicePdfPending
from sceau.db import utcnow
from sceau.http import ERROR_RESPONSES, frozen_now, runtime_of

router = APIRouter(prefix="/api/v1/sceau/b2b", tags=["Facturation et consommation"])

Client = Annotated[AuthenticatedClient, Depends(authenticated_client)]
NOT_FOUND = {"description": "Aucune facture de ce numéro pour ce client."}


@router.get(
    "/consommation",
    responses={401: ERROR_RESPONSES[401]},
    summary="Consulter sa consommation mois par mois",
)
async def read_usage(
    request: Request,
    client: Client,
    mois: Annotated[int, Query(ge=1, le=36)] = 12,
) -> JSONResponse:
    """Les signatures réussies des derniers mois (UTC), par mode, du plus
    ancien au mois en cours, avec la formule en vigueur chaque mois."""
    runtime = runtime_of(request)
    now = frozen_now(request) or utcnow()

    def work() -> dict[str, Any]:
        with runtime.db.sessions() as session:
            months = service.usage_by_month(
                session, client.client_id, months=mois, now=now
            )
            return {
                "mois": [
                    {
                        "mois": usage.month,
                        "formule": service.plan_for_month(
                            session, client.client_id, usage.month
                        ),
                        "signatures": usage.signatures,
                        "par_mode": usage.by_mode,
                    }
                    for usage in months
                ]
            }

    return JSONResponse(await run_in_threadpool(work))


@router.get(
    "/factures",
    responses={401: ERROR_RESPONSES[401]},
    summary="Lister ses factures et avoirs",
)
async def list_invoices(request: Request, client: Client) -> JSONResponse:
    """Du plus récent au plus ancien ; le détail des lignes est sur
    ``/factures/{numero}``."""
    runtime = runtime_of(request)

    def work() -> dict[str, Any]:
        with runtime.db.sessions() as session:
            found = invoices.list_invoices(session, client.client_id)
            return {"factures": [_summary(invoice) for invoice in found]}

    return JSONResponse(await run_in_threadpool(work))


@router.get(
    "/factures/{numero}",
    responses={401: ERROR_RESPONSES[401], 404: NOT_FOUND},
    summary="Lire une facture",
)
async def read_invoice(numero: str, request: Request, client: Client) -> JSONResponse:
    runtime = runtime_of(request)

    def work() -> dict[str, Any]:
        with runtime.db.sessions() as session:
            invoice = invoices.get_invoice(session, numero, client_id=client.client_id)
            return invoices.invoice_json(invoice)

    return JSONResponse(await run_in_threadpool(work))


@router.get(
    "/factures/{numero}/pdf",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {}},
            "description": "La facture, signée par Pixel Sceau.",
        },
        401: ERROR_RESPONSES[401],
        404: NOT_FOUND,
        409: {"description": "PDF en préparation (facture_en_preparation)."},
    },
    summary="Télécharger le PDF signé d'une facture",
)
async def download_invoice(numero: str, request: Request, client: Client) -> Response:
    runtime = runtime_of(request)

    def work() -> bytes:
        with runtime.db.sessions() as session:
            invoice = invoices.get_invoice(session, numero, client_id=client.client_id)
            if invoice.pdf is None:
                raise InvoicePdfPending()
            return invoice.pdf

    pdf = await run_in_threadpool(work)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{numero}.pdf"'},
    )


def _summary(invoice: invoices.Invoice) -> dict[str, Any]:
    data = invoices.invoice_json(invoice)
    return {key: value for key, value in data.items() if key != "lignes"}
