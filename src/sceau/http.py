"""HTTP plumbing shared by the routes: the runtime, bodies, errors as JSON."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from sceau.errors import BadRequest, PayloadTooLarge, SceauError
from sceau.ops.middleware import BodyTooLarge
from sceau.runtime import Runtime

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Requête mal formée (JSON, base64, en-tête)."},
    401: {"description": "Clé d'API absente, inconnue ou révoquée."},
    403: {"description": "Identité d'un autre client, ou révoquée."},
    409: {"description": "Une requête de même clé d'idempotence est en cours."},
    413: {"description": "Corps ou PDF au-delà de la taille autorisée."},
    422: {"description": "Requête non traitable (identité, nom, PDF, idempotence)."},
    503: {"description": "Autorité d'horodatage indisponible ; rien n'a été signé."},
}


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def read_body(request: Request) -> bytes:
    """The whole body, read from the stream so that the request object does not
    keep a second reference to it (``request.body()`` caches it)."""
    try:
        return b"".join([chunk async for chunk in request.stream()])
    except BodyTooLarge as exc:
        limit = runtime_of(request).settings.max_body_bytes
        raise PayloadTooLarge(
            f"Le corps de la requête dépasse la taille autorisée ({limit} octets)."
        ) from exc


def error_response(
    error: SceauError, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error.as_body(), status_code=error.status, headers=headers)


class MalformedJson(BadRequest):
    code = "json_invalide"
    message = "Le corps de la requête n'est pas un JSON valide."


class MalformedBase64(BadRequest):
    code = "base64_invalide"
    message = "pdf_b64 n'est pas un base64 valide (RFC 4648, alphabet standard)."
