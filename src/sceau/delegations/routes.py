"""``/api/v1/sceau/b2b/delegations``: the client drafts a delegation for one
of its officers, follows it, downloads it, or withdraws a draft. The officer
signs, refuses or revokes it on the web signer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sceau.audit.actors import Actor
from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.delegations.envelope import make_envelope
from sceau.delegations.schemas import (
    DELEGATION_REQUEST_EXAMPLE,
    DelegationRequest,
    DelegationView,
)
from sceau.delegations.service import (
    DelegationState,
    cancel_delegation,
    delegation_document,
    draft_delegation,
    get_delegation,
    list_delegations,
    signed_delegation_pdf,
)
from sceau.http import (
    ERROR_RESPONSES,
    frozen_now,
    parse_body,
    peer_address,
    read_body,
    require_json,
    runtime_of,
)
from sceau.ops.logs import request_id_var

router = APIRouter(prefix="/api/v1/sceau/b2b/delegations", tags=["Délégations"])

Client = Annotated[AuthenticatedClient, Depends(authenticated_client)]

_UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"description": "Délégation inconnue (ou d'un autre client)."}
}


@router.post(
    "",
    status_code=201,
    response_model=DelegationView,
    responses=ERROR_RESPONSES,
    summary="Proposer une délégation à un dirigeant ou mandataire",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": DelegationRequest.model_json_schema(),
                    "examples": {"delegation": {"value": DELEGATION_REQUEST_EXAMPLE}},
                }
            },
        }
    },
)
async def propose_delegation(request: Request, client: Client) -> JSONResponse:
    """Rédige la délégation en PDF et l'adresse au délégant, qui la signe dans
    son espace avec son code d'authentification. Elle ne prend effet qu'une
    fois signée."""
    runtime = runtime_of(request)
    require_json(request)
    body = await read_body(request)
    request_id = request_id_var.get() or ""
    now = frozen_now(request)
    actor = Actor.for_client(client, address=peer_address(request))

    def work() -> DelegationState:
        parsed = parse_body(DelegationRequest, body)
        envelope = make_envelope(
            act_types=parsed.types_acte,
            max_amount=parsed.montant_max,
            amount_inclusive=parsed.montant_max_inclus,
            weekdays=parsed.jours,
            start=parsed.heure_debut,
            end=parsed.heure_fin,
            time_zone=parsed.fuseau_horaire,
            valid_from=parsed.valide_du,
            valid_until=parsed.valide_au,
            daily_limit=parsed.quota_journalier,
        )
        return draft_delegation(
            runtime,
            client_id=client.client_id,
            code_09=parsed.code_09,
            envelope=envelope,
            request_id=request_id,
            api_key_id=client.api_key_id,
            now=now,
            actor=actor,
        )

    state = await run_in_threadpool(work)
    return JSONResponse(DelegationView.of(state).as_json(), status_code=201)


@router.get(
    "",
    response_model=list[DelegationView],
    responses={401: ERROR_RESPONSES[401], 422: {"description": "Filtre invalide."}},
    summary="Lister ses délégations",
)
async def read_delegations(
    request: Request,
    client: Client,
    statut: Annotated[str | None, Query(description="Filtrer par statut.")] = None,
    code_09: Annotated[
        str | None, Query(max_length=100, description="Filtrer par délégant.")
    ] = None,
    limite: Annotated[int, Query(ge=1, le=200)] = 100,
) -> JSONResponse:
    """Les plus récentes d'abord."""
    runtime = runtime_of(request)
    now = frozen_now(request)

    def work() -> list[DelegationState]:
        with runtime.db.sessions() as session:
            return list_delegations(
                session,
                client.client_id,
                status=statut,
                code_09=code_09,
                limit=limite,
                now=now,
            )

    states = await run_in_threadpool(work)
    return JSONResponse([DelegationView.of(state).as_json() for state in states])


@router.get(
    "/{ref}",
    response_model=DelegationView,
    responses={401: ERROR_RESPONSES[401], **_UNKNOWN},
    summary="Consulter une délégation",
)
async def read_delegation(ref: str, request: Request, client: Client) -> JSONResponse:
    runtime = runtime_of(request)
    now = frozen_now(request)

    def work() -> DelegationState:
        with runtime.db.sessions() as session:
            return get_delegation(session, client.client_id, ref, now)

    return JSONResponse(DelegationView.of(await run_in_threadpool(work)).as_json())


@router.get(
    "/{ref}/pdf",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {}},
            "description": "La délégation signée.",
        },
        401: ERROR_RESPONSES[401],
        **_UNKNOWN,
        409: {"description": "La délégation n'est pas signée (delegation_non_signee)."},
        410: {"description": "Durée de conservation écoulée."},
    },
    summary="Télécharger la délégation signée",
)
async def download_delegation(ref: str, request: Request, client: Client) -> Response:
    runtime = runtime_of(request)

    def work() -> bytes:
        with runtime.db.sessions() as session:
            return signed_delegation_pdf(session, client.client_id, ref)

    return _pdf(await run_in_threadpool(work), f"{ref}.pdf")


@router.get(
    "/{ref}/document",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "Le projet."},
        401: ERROR_RESPONSES[401],
        **_UNKNOWN,
    },
    summary="Télécharger le projet de délégation, tel que le délégant le lit",
)
async def download_draft(ref: str, request: Request, client: Client) -> Response:
    runtime = runtime_of(request)

    def work() -> bytes:
        with runtime.db.sessions() as session:
            state = get_delegation(session, client.client_id, ref)
            return delegation_document(session, state.delegation)

    return _pdf(await run_in_threadpool(work), f"{ref}-projet.pdf")


@router.post(
    "/{ref}/annulation",
    response_model=DelegationView,
    responses={
        401: ERROR_RESPONSES[401],
        **_UNKNOWN,
        409: {"description": "La délégation n'attend plus de signature."},
    },
    summary="Retirer une délégation que le délégant n'a pas encore signée",
)
async def withdraw_delegation(
    ref: str, request: Request, client: Client
) -> JSONResponse:
    runtime = runtime_of(request)
    now = frozen_now(request)
    actor = Actor.for_client(client, address=peer_address(request))

    def work() -> DelegationState:
        with runtime.db.transaction() as session:
            return cancel_delegation(
                session, client_id=client.client_id, ref=ref, now=now, actor=actor
            )

    return JSONResponse(DelegationView.of(await run_in_threadpool(work)).as_json())


def _pdf(pdf: bytes, filename: str) -> Response:
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
