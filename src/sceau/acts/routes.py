"""``/api/v1/sceau/b2b/actes``: the client prepares an act, follows it, gets
the signed PDF, or withdraws it. The person signs on the web signer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sceau.acts.schemas import ACT_REQUEST_EXAMPLE, ActRequest, ActView
from sceau.acts.service import (
    ActState,
    NewAct,
    cancel_act,
    create_act,
    get_act,
    list_acts,
    signed_act_pdf,
)
from sceau.audit.actors import Actor
from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.http import (
    ERROR_RESPONSES,
    InvalidFields,
    decode_pdf_b64,
    frozen_now,
    parse_body,
    peer_address,
    read_body,
    require_json,
    runtime_of,
)
from sceau.idempotency import service as idempotency
from sceau.lifecycle.http import open_client
from sceau.ops.logs import request_id_var
from sceau.runtime import Runtime

router = APIRouter(prefix="/api/v1/sceau/b2b/actes", tags=["Actes (signature humaine)"])

Client = Annotated[AuthenticatedClient, Depends(authenticated_client)]
# Preparing an act starts a signature: only from the pilot on.
OpenClient = Annotated[AuthenticatedClient, Depends(open_client)]

_UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"description": "Acte inconnu (ou d'un autre client)."}
}


@router.post(
    "",
    status_code=201,
    response_model=ActView,
    responses=ERROR_RESPONSES,
    summary="Préparer un acte pour la signature d'une personne",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": ActRequest.model_json_schema(),
                    "examples": {"acte": {"value": ACT_REQUEST_EXAMPLE}},
                }
            },
        }
    },
)
async def prepare_act(
    request: Request,
    client: OpenClient,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Clé d'idempotence : la même clé et le même corps dans les "
            "24 heures renvoient l'acte déjà créé sans en créer un second.",
        ),
    ] = None,
) -> Response:
    """Enregistre l'acte et prévient la personne par courriel ; elle le signe
    elle-même, avec son code d'authentification. L'API ne signe pas."""
    runtime = runtime_of(request)
    require_json(request)
    key = None if idempotency_key is None else idempotency.validate_key(idempotency_key)
    body = [await read_body(request)]
    return await run_in_threadpool(
        _create,
        runtime,
        client,
        body,
        key,
        request.url.path,
        request_id_var.get() or "",
        frozen_now(request),
        peer_address(request),
    )


@router.get(
    "",
    response_model=list[ActView],
    responses={
        401: ERROR_RESPONSES[401],
        404: {"description": "Aucun acte de ce client à la référence « avant »."},
        422: {"description": "Filtre invalide."},
    },
    summary="Lister ses actes",
)
async def read_acts(
    request: Request,
    client: Client,
    statut: Annotated[str | None, Query(description="Filtrer par statut.")] = None,
    limite: Annotated[int, Query(ge=1, le=200)] = 50,
    avant: Annotated[
        str | None,
        Query(description="Référence du dernier acte de la page précédente."),
    ] = None,
) -> JSONResponse:
    """Les plus récents d'abord."""
    runtime = runtime_of(request)

    def work() -> list[ActState]:
        with runtime.db.sessions() as session:
            return list_acts(
                session, client.client_id, status=statut, limit=limite, before=avant
            )

    states = await run_in_threadpool(work)
    return JSONResponse([ActView.of(state).as_json() for state in states])


@router.get(
    "/{ref}",
    response_model=ActView,
    responses={401: ERROR_RESPONSES[401], **_UNKNOWN},
    summary="Consulter l'état d'un acte",
)
async def read_act(ref: str, request: Request, client: Client) -> JSONResponse:
    runtime = runtime_of(request)

    def work() -> ActState:
        with runtime.db.sessions() as session:
            return get_act(session, client.client_id, ref)

    return JSONResponse(ActView.of(await run_in_threadpool(work)).as_json())


@router.get(
    "/{ref}/pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "Le PDF signé."},
        401: ERROR_RESPONSES[401],
        **_UNKNOWN,
        409: {"description": "L'acte n'est pas signé (acte_non_signe)."},
        410: {"description": "Durée de conservation écoulée."},
    },
    summary="Télécharger le PDF signé d'un acte",
)
async def download_act_pdf(ref: str, request: Request, client: Client) -> Response:
    runtime = runtime_of(request)

    def work() -> bytes:
        with runtime.db.sessions() as session:
            return signed_act_pdf(session, client.client_id, ref)

    pdf = await run_in_threadpool(work)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{ref}.pdf"'},
    )


@router.post(
    "/{ref}/annulation",
    response_model=ActView,
    responses={
        401: ERROR_RESPONSES[401],
        **_UNKNOWN,
        409: {"description": "L'acte n'attend plus de signature."},
    },
    summary="Annuler un acte qui attend encore sa signature",
)
async def withdraw_act(ref: str, request: Request, client: Client) -> JSONResponse:
    runtime = runtime_of(request)
    actor = Actor.for_client(client, address=peer_address(request))

    def work() -> ActState:
        with runtime.db.transaction() as session:
            return cancel_act(
                session,
                runtime.settings,
                client_id=client.client_id,
                ref=ref,
                actor=actor,
            )

    return JSONResponse(ActView.of(await run_in_threadpool(work)).as_json())


def _create(
    runtime: Runtime,
    client: AuthenticatedClient,
    body_holder: list[bytes],
    key: str | None,
    path: str,
    request_id: str,
    now: datetime | None,
    address: str | None,
) -> Response:
    body = body_holder.pop()
    request_fingerprint = idempotency.fingerprint("POST", path, body)
    new = _prepare(body)
    del body

    claim = idempotency.claim_for(
        runtime.db,
        runtime.settings,
        client_id=client.client_id,
        key=key,
        request_fingerprint=request_fingerprint,
    )
    if isinstance(claim, idempotency.Replay):
        with runtime.db.sessions() as session:
            # The act as it is now: it may have been signed since.
            state = get_act(session, client.client_id, claim.ref_signature)
        return _created(state, {"Idempotent-Replayed": "true"})

    try:
        state = create_act(
            runtime,
            new,
            client_id=client.client_id,
            api_key_id=client.api_key_id,
            request_id=request_id,
            claim=claim,
            now=now,
            actor=Actor.for_client(client, address=address),
        )
    except BaseException:
        if claim is not None:
            idempotency.release(runtime.db, claim)
        raise
    return _created(state, {})


def _prepare(body: bytes) -> NewAct:
    parsed = parse_body(ActRequest, body)
    # PostgreSQL text cannot hold NUL (the insert would fail, as a 500).
    if "\x00" in parsed.motif:
        raise InvalidFields("Champs invalides — motif : caractère NUL interdit.")
    return NewAct(
        code_09=parsed.code_09,
        reason=parsed.motif,
        pdf=decode_pdf_b64(parsed.pdf_b64),
        level=parsed.niveau,
        callback_url=str(parsed.callback_url) if parsed.callback_url else None,
        expires_at=parsed.expire_le,
        act_type=parsed.type_acte,
        amount=parsed.montant,
    )


def _created(state: ActState, headers: dict[str, str]) -> JSONResponse:
    content: dict[str, Any] = ActView.of(state).as_json()
    return JSONResponse(content, status_code=201, headers=headers)
