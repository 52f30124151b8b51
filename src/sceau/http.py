"""HTTP plumbing shared by the routes: the runtime, bodies, errors as JSON."""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from sceau.errors import (
    BadRequest,
    PayloadTooLarge,
    SceauError,
    Unprocessable,
    UnsupportedMediaType,
)
from sceau.ops.middleware import BodyTooLarge
from sceau.runtime import Runtime

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Requête mal formée (JSON, base64, en-tête)."},
    401: {"description": "Clé d'API absente, inconnue ou révoquée."},
    403: {"description": "Identité d'un autre client, ou révoquée."},
    409: {"description": "Une requête de même clé d'idempotence est en cours."},
    413: {"description": "Corps ou PDF au-delà de la taille autorisée."},
    422: {"description": "Requête non traitable (identité, nom, PDF, idempotence)."},
    503: {
        "description": "Service momentanément indisponible (autorité d'horodatage, "
        "base de données, disque, jeton PKCS#11) : rien n'a été enregistré ; "
        "réessayez après Retry-After."
    },
}


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def frozen_now(request: Request) -> datetime | None:
    """The time a test froze the API at (``app.state.api_clock``), for the
    checks that depend on it (a delegation's hours); None in service."""
    clock = getattr(request.app.state, "api_clock", None)
    return None if clock is None else clock()


def peer_address(request: Request) -> str | None:
    """The source address the middleware established (through the front when
    there is one), for the audit trail; None when the connection has none."""
    peer = request.scope.get("state", {}).get("peer")
    address: str | None = getattr(peer, "address", None)
    return address or None


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


class InvalidFields(Unprocessable):
    code = "champ_invalide"


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip()
    if media_type.lower() != "application/json":
        raise UnsupportedMediaType(
            "Envoyez le corps en JSON avec l'en-tête Content-Type: application/json."
        )


Model = TypeVar("Model", bound=BaseModel)


def parse_body(
    model: type[Model], body: bytes, *, field_codes: Mapping[str, str] | None = None
) -> Model:
    """The body as ``model``, or the error that tells the caller what to fix:
    malformed JSON (400), or the fields at fault (422). When every fault lies
    under one top-level field of ``field_codes``, the 422 carries that field's
    code instead of ``champ_invalide``."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors()
        if any(error["type"] == "json_invalid" for error in errors):
            raise MalformedJson() from None
        if any(error["type"] == "model_type" and not error["loc"] for error in errors):
            raise MalformedJson(
                "Le corps de la requête doit être un objet JSON."
            ) from None
        faulty = {str(error["loc"][0]) if error["loc"] else "" for error in errors}
        code = None
        if field_codes and len(faulty) == 1:
            code = field_codes.get(faulty.pop())
        raise InvalidFields(describe_field_errors(errors), code=code) from None


_ERROR_WORDS = {
    "missing": "champ obligatoire absent",
    "extra_forbidden": "champ inconnu",
    "string_type": "doit être une chaîne de caractères",
    "string_too_short": "ne doit pas être vide",
    "string_too_long": "trop long",
    "literal_error": "valeur non admise",
    "url_parsing": "adresse invalide",
    "url_scheme": "doit commencer par http:// ou https://",
    "datetime_parsing": "date et heure ISO 8601 attendues",
    "datetime_from_date_parsing": "date et heure ISO 8601 attendues",
    "datetime_type": "date et heure ISO 8601 attendues",
    "timezone_aware": "doit porter son décalage horaire (+00:00 ou Z)",
    "int_type": "nombre entier attendu",
    "int_parsing": "nombre entier attendu",
    "int_from_float": "nombre entier attendu",
    "model_type": "objet JSON attendu",
}


def describe_field_errors(errors: list[Any]) -> str:
    parts = []
    for error in errors[:5]:
        field = ".".join(str(part) for part in error["loc"]) or "corps"
        words = _ERROR_WORDS.get(error["type"], "valeur invalide")
        if error["type"] == "literal_error" and field == "niveau":
            words = "valeurs admises : B-B, B-T, B-LT, B-LTA"
        elif error["type"] == "literal_error" and field.startswith("apparence."):
            # Pydantic lists the admitted values as "'a', 'b' or 'c'".
            expected = error["ctx"]["expected"].replace("'", "")
            words = "valeurs admises : " + expected.replace(" or ", ", ")
        parts.append(f"{field} : {words}")
    return "Champs invalides — " + " ; ".join(parts) + "."


def decode_pdf_b64(text: str) -> bytes:
    # Strict RFC 4648: standard alphabet, exact padding, nothing else. Unlike
    # b64decode(validate=True), no ASCII copy of the text is made first.
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise MalformedBase64() from None
