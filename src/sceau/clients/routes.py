"""A client's own credentials: list them, and rotate an API key or an HMAC
secret without calling the operator. The request is authenticated at the
client's level like any other; the previous credential overlaps the new one
for the grace period asked (24 hours unless told, 0 to end it at once)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from sceau.audit.actors import Actor
from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.clients.models import ApiKey, HmacSecret
from sceau.clients.service import (
    create_api_key,
    create_hmac_secret,
    is_active,
    list_api_keys,
    list_hmac_secrets,
)
from sceau.db import utcnow
from sceau.errors import BadRequest
from sceau.http import ERROR_RESPONSES, MalformedJson, read_body, runtime_of
from sceau.runtime import Runtime
from sceau.web.pages import client_address

router = APIRouter(prefix="/api/v1/sceau/b2b/cles", tags=["Identifiants du client"])

Kind = Literal["api", "hmac"]


class RotationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delai_grace_heures: float = Field(
        default=24,
        ge=0,
        le=720,
        description="Durée de validité de l'identifiant précédent (0 : fin immédiate).",
    )


class IssuedCredential(BaseModel):
    type: Kind
    id: str
    secret: str = Field(description="Affiché une seule fois : conservez-le aussitôt.")
    precedent_valide_jusqu_au: datetime | None = Field(
        description="Fin du recouvrement de l'identifiant précédent, s'il y en a un."
    )


class CredentialView(BaseModel):
    type: Kind
    id: str
    etat: Literal["active", "en_recouvrement"]
    cree_le: datetime
    expire_le: datetime | None
    derniere_utilisation: datetime | None


@router.get(
    "",
    response_model=list[CredentialView],
    responses={401: ERROR_RESPONSES[401]},
    summary="Lister ses clés d'API et clés HMAC en vigueur",
)
async def list_credentials(
    request: Request,
    client: Annotated[AuthenticatedClient, Depends(authenticated_client)],
) -> list[CredentialView]:
    return await run_in_threadpool(_list, runtime_of(request), client.client_id)


@router.post(
    "/{kind}",
    response_model=IssuedCredential,
    status_code=201,
    responses={400: ERROR_RESPONSES[400], 401: ERROR_RESPONSES[401]},
    summary="Renouveler sa clé d'API (api) ou sa clé HMAC (hmac)",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {"schema": RotationRequest.model_json_schema()}
            },
        }
    },
)
async def rotate_credential(
    kind: Kind,
    request: Request,
    client: Annotated[AuthenticatedClient, Depends(authenticated_client)],
) -> IssuedCredential:
    grace = _grace(await read_body(request))
    by = Actor.for_client(client, address=client_address(request))
    return await run_in_threadpool(
        _rotate, runtime_of(request), client.client_id, kind, grace, by
    )


def _grace(body: bytes) -> timedelta:
    if not body.strip():
        return timedelta(hours=24)
    try:
        parsed = RotationRequest.model_validate(json.loads(body))
    except json.JSONDecodeError as exc:
        raise MalformedJson() from exc
    except ValidationError as exc:
        raise BadRequest(
            "delai_grace_heures doit être un nombre d'heures entre 0 et 720.",
            code="parametre_invalide",
        ) from exc
    return timedelta(hours=parsed.delai_grace_heures)


def _rotate(
    runtime: Runtime, client_id: str, kind: Kind, grace: timedelta, by: Actor
) -> IssuedCredential:
    with runtime.db.transaction() as session:
        if kind == "api":
            issued = create_api_key(session, client_id, grace, by=by)
            previous: list[ApiKey] | list[HmacSecret] = list_api_keys(
                session, client_id
            )
        else:
            issued = create_hmac_secret(
                session, runtime.sealer, client_id, grace, by=by
            )
            previous = list_hmac_secrets(session, client_id)
        overlap = [
            c.expires_at
            for c in previous
            if c.id != issued.id and is_active(c, utcnow()) and c.expires_at
        ]
    return IssuedCredential(
        type=kind,
        id=issued.id,
        secret=issued.secret,
        precedent_valide_jusqu_au=max(overlap) if overlap else None,
    )


def _list(runtime: Runtime, client_id: str) -> list[CredentialView]:
    now = utcnow()
    views = []
    with runtime.db.sessions() as session:
        kinds: list[tuple[Kind, list[ApiKey] | list[HmacSecret]]] = [
            ("api", list_api_keys(session, client_id)),
            ("hmac", list_hmac_secrets(session, client_id)),
        ]
        for kind, credentials in kinds:
            for credential in credentials:
                if not is_active(credential, now):
                    continue
                views.append(
                    CredentialView(
                        type=kind,
                        id=credential.id,
                        etat="en_recouvrement" if credential.expires_at else "active",
                        cree_le=credential.created_at,
                        expire_le=credential.expires_at,
                        derniere_utilisation=credential.last_used_at,
                    )
                )
    return views
