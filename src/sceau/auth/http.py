"""The FastAPI dependency that authenticates B2B requests, at every level."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Header, Request
from starlette.concurrency import run_in_threadpool

from sceau.auth.front import Peer
from sceau.auth.hmac_scheme import HEADER
from sceau.auth.service import AuthenticatedClient, RequestCredentials
from sceau.http import read_body, runtime_of

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


async def authenticated_client(
    request: Request,
    x_identity_api_key: Annotated[
        str | None,
        Header(
            alias="X-Identity-API-Key",
            description="Clé d'API de 256 bits délivrée au client (tous niveaux).",
        ),
    ] = None,
    x_pixel_signature: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description=(
                "Niveau B : signature HMAC-SHA-256 de la requête, "
                "« v1;t=…;n=…;k=…;s=… » (voir le guide d'intégration)."
            ),
        ),
    ] = None,
) -> AuthenticatedClient:
    runtime = runtime_of(request)
    body: bytes | None = None
    if x_pixel_signature is not None:
        # The route reads the same bytes again from Starlette's cache: one copy.
        body = await read_body(request)
        request._body = body

    credentials = RequestCredentials(
        api_key=x_identity_api_key,
        signature=x_pixel_signature,
        method=request.method,
        host=request.headers.get("host", ""),
        path=request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
        query=request.scope.get("query_string", b"").decode("latin-1"),
        body_sha256=EMPTY_SHA256,
        peer=request.scope["state"].get("peer") or Peer(address=None),
    )
    client = await run_in_threadpool(_authenticate, runtime, credentials, body)
    request.scope["state"]["client_id"] = client.client_id
    return client


def _authenticate(
    runtime: object, credentials: RequestCredentials, body: bytes | None
) -> AuthenticatedClient:
    # Hashing a large body belongs off the event loop, with the database work.
    if body:
        credentials = _with_body_digest(credentials, hashlib.sha256(body).hexdigest())
    return runtime.authenticator.authenticate(credentials)  # type: ignore[attr-defined]


def _with_body_digest(
    credentials: RequestCredentials, digest: str
) -> RequestCredentials:
    from dataclasses import replace

    return replace(credentials, body_sha256=digest)
