"""The OpenAPI description as the service really answers: what every route of
a kind can answer is documented once here, not route by route.

- Every error response carries the error body (``Erreur``): ``{"erreur":
  {"code", "message", …}}``.
- A parameter the framework refuses is a 400 ``parametre_invalide`` (the
  error handler's answer), not the framework's own 422 body.
- An authenticated route can answer 401, 403 (address, certificate) and 429
  (too many failed authentications from one address).
- A route with a body can answer 413 (size limit); with a JSON body, 400
  (malformed JSON), and 415 (wrong content type) where it checks the content
  type (``sceau.http.require_json``, called or depended on).
- Any route can answer 503 while the database, the disk or the key store is
  unavailable, with ``Retry-After``.
- An optional parameter is a string when present, never JSON's ``null``;
  ``Idempotency-Key`` is described with the format the service checks.
- A request body's schema written from a model keeps its ``$defs`` beside the
  other schemas (``#/$defs/…`` would point nowhere in the document).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from sceau.auth.http import authenticated_client
from sceau.http import require_json

ERROR_SCHEMA_NAME = "Erreur"
ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR_SCHEMA_NAME,
    "type": "object",
    "required": ["erreur"],
    "properties": {
        "erreur": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Code stable, à tester par le programme.",
                },
                "message": {
                    "type": "string",
                    "description": "Ce qu'il faut corriger, en français.",
                },
            },
            # Some errors add what they name, such as the crossed limit.
            "additionalProperties": True,
        }
    },
}
_ERROR_CONTENT = {
    "application/json": {
        "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}
    }
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Secondes à attendre avant de réessayer.",
        "schema": {"type": "string"},
    }
}
_FRAMEWORK_VALIDATION = "#/components/schemas/HTTPValidationError"
# What ``sceau.idempotency.service.validate_key`` accepts: 1 to 255 visible
# ASCII characters.
_HEADER_FORMATS = {
    "idempotency-key": {"type": "string", "pattern": "^[!-~]{1,255}$"},
}

INVALID_PARAMETERS = "Paramètres de chemin ou de requête invalides."
AUTHENTICATION = {
    "401": "Clé d'API absente, inconnue ou révoquée ; signature HMAC refusée.",
    "403": "Adresse non autorisée, certificat client absent ou refusé.",
    "429": "Trop d'échecs d'authentification depuis cette adresse.",
}
BODY_TOO_LARGE = "Corps au-delà de la taille autorisée."
MALFORMED_JSON = "Corps qui n'est pas un JSON valide."
NOT_JSON = "Corps sans l'en-tête Content-Type: application/json."
UNAVAILABLE = (
    "Service momentanément indisponible (base de données, disque, jeton "
    "PKCS#11) ; réessayez après Retry-After. Sauf cle_de_signature_introuvable "
    "(une clé de signature manque au jeton), qui attend l'opérateur : le "
    "signaler."
)


def install(app: FastAPI) -> None:
    """Make ``app`` describe itself with the shared responses."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if getattr(app.state, "described", None) is None:
            app.state.described = describe(app, copy.deepcopy(generate()))
        described: dict[str, Any] = app.state.described
        return described

    app.openapi = openapi  # type: ignore[method-assign]


def describe(app: FastAPI, spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (the framework's description of ``app``) with every operation's
    shared responses added."""
    for route in iter_route_contexts(app.routes):
        if (
            not isinstance(route.original_route, APIRoute)
            or not route.include_in_schema
        ):
            continue
        for method in route.methods or ():
            path = spec["paths"].get(route.path_format or "", {})
            operation = path.get(method.lower())
            if operation is not None:
                _complete(operation, route)

    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    for operations in spec["paths"].values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _hoist_definitions(media, schemas)
    if _FRAMEWORK_VALIDATION not in repr(spec["paths"]):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return spec


def _complete(operation: dict[str, Any], route: RouteContext) -> None:
    for parameter in operation.get("parameters", []):
        parameter["schema"] = _without_null(parameter.get("schema", {}))
        known = _HEADER_FORMATS.get(parameter["name"].lower())
        if parameter["in"] == "header" and known is not None:
            parameter["schema"] = {**parameter["schema"], **known}

    responses: dict[str, Any] = operation.setdefault("responses", {})
    framework = responses.get("422", {})
    if _FRAMEWORK_VALIDATION in repr(framework):
        # The error handler answers these with a 400, never the framework's 422.
        del responses["422"]
    every = [route.dependant, *_dependencies(route.dependant)]
    if any(each.path_params or each.query_params for each in every):
        _document(responses, "400", INVALID_PARAMETERS)

    if _authenticated(route.dependant):
        for status, description in AUTHENTICATION.items():
            _document(responses, status, description)

    body = operation.get("requestBody", {}).get("content", {})
    if body:
        _document(responses, "413", BODY_TOO_LARGE)
    if "application/json" in body:
        _document(responses, "400", MALFORMED_JSON)
        if _checks_json(route):
            _document(responses, "415", NOT_JSON)
    _document(responses, "503", UNAVAILABLE)

    for status, response in responses.items():
        if status[0] in "45":
            response.setdefault("content", copy.deepcopy(_ERROR_CONTENT))
        if status in ("429", "503"):
            response.setdefault("headers", copy.deepcopy(_RETRY_AFTER))


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter's schema without its ``null`` choice: a header
    or a query string is absent or a string, never JSON's null."""
    choices = schema.get("anyOf")
    if not isinstance(choices, list):
        return schema
    kept = [choice for choice in choices if choice != {"type": "null"}]
    if len(kept) != 1 or len(kept) == len(choices):
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**rest, **kept[0]}


def _hoist_definitions(media: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Move the ``$defs`` of ``media``'s schema among the document's schemas,
    and point its references there."""
    schema = media.get("schema")
    if not isinstance(schema, dict) or "$defs" not in schema:
        return
    definitions = schema.pop("$defs")
    for name, definition in definitions.items():
        moved = _pointing_to_components(definition)
        if schemas.setdefault(name, moved) != moved:
            raise ValueError(f"two different schemas are named {name}")
    media["schema"] = _pointing_to_components(schema)


def _pointing_to_components(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                value.replace("#/$defs/", "#/components/schemas/", 1)
                if key == "$ref" and isinstance(value, str)
                else _pointing_to_components(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_pointing_to_components(value) for value in node]
    return node


def _document(responses: dict[str, Any], status: str, description: str) -> None:
    """Add ``status`` unless the route documents it in its own words."""
    responses.setdefault(status, {"description": description})


def _checks_json(route: RouteContext) -> bool:
    """Whether the route refuses a body not sent as JSON: its endpoint calls
    ``require_json``, or depends on it."""
    endpoint = route.dependant.call
    code = getattr(endpoint, "__code__", None)
    if code is not None and "require_json" in code.co_names:
        return True
    return any(each.call is require_json for each in _dependencies(route.dependant))


def _authenticated(dependant: Dependant) -> bool:
    return any(each.call is authenticated_client for each in _dependencies(dependant))


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for each in dependant.dependencies:
        yield each
        yield from _dependencies(each)
