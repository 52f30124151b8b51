"""The FastAPI dependency that authenticates B2B requests, at every level."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Header, Request
from starlette.concurrency import run_in_threadpool

from sceau.auth.front import Peer
from sceau.auth.hmac_scheme import HEADER
from sceau.auth.service import (
    AuthenticatedClient,
    Authenticator,
    RequestCredentials,
    Started,
)
from sceau.http import read_body, runtime_of


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
    authenticator = runtime_of(request).authenticator
    credentials = RequestCredentials(
        api_key=x_identity_api_key,
        signature=x_pixel_signature,
        method=request.method,
        host=request.headers.get("host", ""),
        path=request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
        query=request.scope.get("query_string", b"").decode("latin-1"),
        peer=request.scope["state"].get("peer") or Peer(address=None),
    )

    if x_pixel_signature is None or not _may_have_body(request):
        # Nothing to read first (no signature, or a request without a body,
        # such as every GET): every check in one hop to the thread pool.
        client = await run_in_threadpool(authenticator.authenticate, credentials)
    else:
        # The body is read only once the address, the certificate and the key
        # have passed; the route then reads the same bytes from Starlette's
        # cache, with no second copy.
        started = await run_in_threadpool(authenticator.begin, credentials)
        body = await read_body(request)
        request._body = body
        client = await run_in_threadpool(_finish, authenticator, started, body)
    request.scope["state"]["client_id"] = client.client_id
    return client


def _finish(
    authenticator: Authenticator, started: Started, body: bytes
) -> AuthenticatedClient:
    # Hashing a large body belongs off the event loop, with the database work.
    return authenticator.finish(started, hashlib.sha256(body).hexdigest())


def _may_have_body(request: Request) -> bool:
    if "transfer-encoding" in request.headers:
        return True
    return request.headers.get("content-length", "0").strip() not in ("", "0")
