"""Reading back one's own signatures: the record, and the signed PDF."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.http import ERROR_RESPONSES, runtime_of
from sceau.modes.schemas import SignatureView
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from sceau.signing.service import get_signature, get_signed_pdf

router = APIRouter(prefix="/api/v1/sceau/b2b/signatures", tags=["Signature B2B"])


@router.get(
    "/{ref}",
    response_model=SignatureView,
    responses={401: ERROR_RESPONSES[401], 404: {"description": "Inconnue."}},
    summary="Consulter l'enregistrement d'une signature",
)
async def read_signature(
    ref: str,
    request: Request,
    client: Annotated[AuthenticatedClient, Depends(authenticated_client)],
) -> SignatureView:
    record = await run_in_threadpool(
        _record, runtime_of(request), client.client_id, ref
    )
    return SignatureView(
        ref_signature=record.ref,
        statut="signe",
        mode=record.mode,
        niveau=record.level,
        code_09=record.code_09,
        nom_signataire=record.signer_name,
        motif=record.reason,
        sha256_source=record.sha256_source,
        sha256_signe=record.sha256_signed,
        taille_source=record.size_source,
        taille_signe=record.size_signed,
        ref_horodatage=record.ref_horodatage,
        callback_url=record.callback_url,
        id_requete=record.request_id,
        type_acte=record.act_type,
        montant=record.amount,
        ref_delegation=record.delegation_ref,
        version_matrice=record.matrix_version,
        signe_le=record.signed_at,
        conserve_jusqu_au=record.keep_until,
        duree_traitement_ms=record.duration_ms,
    )


@router.get(
    "/{ref}/pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "Le PDF signé."},
        401: ERROR_RESPONSES[401],
        404: {"description": "Inconnue."},
        410: {"description": "Durée de conservation écoulée."},
    },
    summary="Télécharger le PDF signé",
)
async def download_signed_pdf(
    ref: str,
    request: Request,
    client: Annotated[AuthenticatedClient, Depends(authenticated_client)],
) -> Response:
    pdf = await run_in_threadpool(_pdf, runtime_of(request), client.client_id, ref)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{ref}.pdf"'},
    )


def _record(runtime: Runtime, client_id: str, ref: str) -> SignatureRecord:
    with runtime.db.sessions() as session:
        return get_signature(session, client_id, ref)


def _pdf(runtime: Runtime, client_id: str, ref: str) -> bytes:
    with runtime.db.sessions() as session:
        return get_signed_pdf(session, get_signature(session, client_id, ref))
