"""``/api/v1/sceau/b2b/matrice``: the client reads its authority matrix in
force and its history, and publishes a new version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sceau.audit.actors import Actor
from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.authority import service
from sceau.authority.errors import MatrixNotFound
from sceau.authority.schemas import (
    MATRIX_REQUEST_EXAMPLE,
    MatrixBody,
    MatrixRequest,
    MatrixView,
    VersionList,
    VersionSummary,
    inline_schema,
)
from sceau.db import utcnow
from sceau.http import (
    ERROR_RESPONSES,
    frozen_now,
    parse_body,
    read_body,
    require_json,
    runtime_of,
)
from sceau.web.pages import client_address

router = APIRouter(prefix="/api/v1/sceau/b2b/matrice", tags=["Matrice d'autorité"])

Client = Annotated[AuthenticatedClient, Depends(authenticated_client)]

# A fault anywhere in these fields is a fault of the matrix.
_FIELD_CODES = {
    "regles": "matrice_invalide",
    "revue_le": "matrice_invalide",
    "politique_revue": "matrice_invalide",
}
_ABSENT: dict[int | str, dict[str, Any]] = {
    404: {"description": "Ce client n'a pas de matrice (matrice_absente)."}
}


@router.get(
    "",
    response_model=MatrixView,
    responses={401: ERROR_RESPONSES[401], **_ABSENT},
    summary="Consulter la matrice d'autorité en vigueur",
)
async def read_matrix(request: Request, client: Client) -> JSONResponse:
    """La version la plus récente, ses règles et l'état de sa revue."""
    runtime = runtime_of(request)
    now = frozen_now(request) or utcnow()

    def work() -> service.MatrixVersion:
        with runtime.db.sessions() as session:
            found = service.current(session, client.client_id, now)
        if found is None:
            raise MatrixNotFound()
        return found

    matrix = await run_in_threadpool(work)
    return JSONResponse(_full(matrix, in_force=True))


@router.put(
    "",
    status_code=201,
    response_model=MatrixView,
    responses={
        401: ERROR_RESPONSES[401],
        409: {"description": "Publication simultanée : relire et renvoyer."},
        422: {"description": "Matrice invalide (matrice_invalide), règle nommée."},
    },
    summary="Publier une nouvelle version de la matrice d'autorité",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": inline_schema(MatrixRequest),
                    "examples": {"assureur": {"value": MATRIX_REQUEST_EXAMPLE}},
                }
            },
        }
    },
)
async def publish_matrix(request: Request, client: Client) -> JSONResponse:
    """Remplace la matrice en vigueur par une nouvelle version, numérotée après
    la dernière ; les versions publiées ne changent plus."""
    runtime = runtime_of(request)
    require_json(request)
    body = parse_body(MatrixBody, await read_body(request), field_codes=_FIELD_CODES)

    now = frozen_now(request) or utcnow()

    def work() -> service.MatrixVersion:
        with runtime.db.transaction() as session:
            return service.publish(
                session,
                client.client_id,
                rules=body.regles,
                review_due=body.revue_le,
                overdue_policy=body.politique_revue,
                author=f"api:{client.api_key_id}",
                now=now,
                by=Actor.for_client(client, address=client_address(request)),
            )

    matrix = await run_in_threadpool(work)
    return JSONResponse(_full(matrix, in_force=True), status_code=201)


@router.get(
    "/versions",
    response_model=VersionList,
    responses={401: ERROR_RESPONSES[401]},
    summary="Lister les versions de la matrice d'autorité",
)
async def read_versions(request: Request, client: Client) -> JSONResponse:
    """La plus récente d'abord, sans leurs règles (voir /versions/{n})."""
    runtime = runtime_of(request)
    now = frozen_now(request) or utcnow()

    def work() -> list[service.MatrixVersion]:
        with runtime.db.sessions() as session:
            return service.versions(session, client.client_id, now)

    found = await run_in_threadpool(work)
    summaries = [
        VersionSummary.of(matrix, in_force=index == 0)
        for index, matrix in enumerate(found)
    ]
    return JSONResponse(VersionList(versions=summaries).model_dump(mode="json"))


@router.get(
    "/versions/{n}",
    response_model=MatrixView,
    responses={
        401: ERROR_RESPONSES[401],
        404: {"description": "Aucune version de ce numéro (version_matrice_inconnue)."},
    },
    summary="Consulter une version de la matrice d'autorité",
)
async def read_version(
    n: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, client: Client
) -> JSONResponse:
    runtime = runtime_of(request)
    now = frozen_now(request) or utcnow()

    def work() -> tuple[service.MatrixVersion, bool]:
        with runtime.db.sessions() as session:
            found = service.version(session, client.client_id, n, now)
            latest = service.current(session, client.client_id, now)
        return found, latest is not None and latest.version == found.version

    matrix, in_force = await run_in_threadpool(work)
    return JSONResponse(_full(matrix, in_force=in_force))


def _full(matrix: service.MatrixVersion, *, in_force: bool) -> dict[str, Any]:
    return MatrixView.of(matrix, in_force=in_force).model_dump(mode="json")
