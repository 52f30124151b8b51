"""``/api/v1/sceau/horodatages/…``: an anchoring's status and its ``.ots``
proof for its owner, and the proof by document digest for anyone."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from sceau.anchoring.service import (
    AnchorView,
    find_by_digest,
    get_anchor,
    ots_file,
)
from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.errors import BadRequest
from sceau.http import ERROR_RESPONSES, runtime_of
from sceau.runtime import Runtime

router = APIRouter(tags=["Ancrage Bitcoin"])

OTS_MEDIA_TYPE = "application/vnd.opentimestamps.v1"
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class CalendarView(BaseModel):
    url: str
    statut: str
    tentatives: int
    erreur: str | None


class BlockView(BaseModel):
    hauteur: int
    hash: str
    horodatage: datetime


class AnchorStatus(BaseModel):
    ref_horodatage: str
    statut: Literal["en_attente", "soumis", "confirme"]
    sha256: str
    cree_le: datetime
    ref_lot: str | None
    soumis_le: datetime | None
    confirme_le: datetime | None
    calendriers: list[CalendarView]
    bloc: BlockView | None


def _status(view: AnchorView) -> AnchorStatus:
    record, batch = view.record, view.batch
    block = None
    if batch is not None and batch.block_height is not None:
        assert batch.block_hash is not None and batch.block_time is not None
        block = BlockView(
            hauteur=batch.block_height,
            hash=batch.block_hash,
            horodatage=batch.block_time,
        )
    return AnchorStatus(
        ref_horodatage=record.ref,
        statut=record.status,  # type: ignore[arg-type]
        sha256=record.sha256,
        cree_le=record.created_at,
        ref_lot=record.batch_id,
        soumis_le=batch.submitted_at if batch else None,
        confirme_le=batch.confirmed_at if batch else None,
        calendriers=[
            CalendarView(
                url=url,
                statut=state["etat"],
                tentatives=state.get("tentatives", 0),
                erreur=state.get("erreur"),
            )
            for url, state in view.calendars.items()
        ],
        bloc=block,
    )


def _ots_response(proof: bytes, name: str) -> Response:
    return Response(
        proof,
        media_type=OTS_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.ots"'},
    )


@router.get(
    "/api/v1/sceau/horodatages/{ref}.ots",
    response_class=Response,
    responses={
        200: {"content": {OTS_MEDIA_TYPE: {}}, "description": "La preuve .ots."},
        401: ERROR_RESPONSES[401],
        404: {"description": "Inconnu."},
        409: {"description": "Encore en file d'attente."},
    },
    summary="Télécharger la preuve OpenTimestamps (.ots) d'un document",
)
async def download_proof(
    ref: str,
    request: Request,
    client: Annotated[AuthenticatedClient, Depends(authenticated_client)],
) -> Response:
    proof = await run_in_threadpool(
        _own_proof, runtime_of(request), client.client_id, ref
    )
    return _ots_response(proof, ref)


@router.get(
    "/api/v1/sceau/horodatages/{ref}",
    response_model=AnchorStatus,
    responses={401: ERROR_RESPONSES[401], 404: {"description": "Inconnu."}},
    summary="Consulter l'ancrage Bitcoin d'un document (HRD-…)",
)
async def read_anchor(
    ref: str,
    request: Request,
    client: Annotated[AuthenticatedClient, Depends(authenticated_client)],
) -> AnchorStatus:
    return await run_in_threadpool(
        _own_status, runtime_of(request), client.client_id, ref
    )


@router.get(
    "/api/v1/sceau/public/horodatages/{sha256}.ots",
    response_class=Response,
    responses={
        200: {"content": {OTS_MEDIA_TYPE: {}}, "description": "La preuve .ots."},
        400: {"description": "Empreinte mal formée."},
        404: {"description": "Aucun ancrage pour ce document."},
        409: {"description": "Encore en file d'attente."},
    },
    summary="Preuve OpenTimestamps d'un document signé, par son empreinte (public)",
)
async def public_proof(sha256: str, request: Request) -> Response:
    if not _SHA256.fullmatch(sha256):
        raise BadRequest(
            "L'empreinte doit être un SHA-256 en hexadécimal (64 caractères).",
            code="empreinte_invalide",
        )
    proof = await run_in_threadpool(_public_proof, runtime_of(request), sha256.lower())
    return _ots_response(proof, sha256.lower())


def _own_status(runtime: Runtime, client_id: str, ref: str) -> AnchorStatus:
    with runtime.db.sessions() as session:
        return _status(get_anchor(session, client_id, ref))


def _own_proof(runtime: Runtime, client_id: str, ref: str) -> bytes:
    with runtime.db.sessions() as session:
        return ots_file(get_anchor(session, client_id, ref))


def _public_proof(runtime: Runtime, sha256: str) -> bytes:
    with runtime.db.sessions() as session:
        return ots_file(find_by_digest(session, sha256))
