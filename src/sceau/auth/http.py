"""The FastAPI dependency that authenticates B2B requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request
from starlette.concurrency import run_in_threadpool

from sceau.auth.service import AuthenticatedClient, authenticate_level_a
from sceau.http import runtime_of


async def authenticated_client(
    request: Request,
    x_identity_api_key: Annotated[
        str | None,
        Header(
            alias="X-Identity-API-Key",
            description="Clé d'API de 256 bits délivrée au client (niveau A).",
        ),
    ] = None,
) -> AuthenticatedClient:
    client = await run_in_threadpool(
        authenticate_level_a, runtime_of(request).db, x_identity_api_key
    )
    request.scope["state"]["client_id"] = client.client_id
    return client
