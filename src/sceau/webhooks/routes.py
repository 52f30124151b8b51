"""The client's own webhook endpoints and deliveries, under its API key:
``/api/v1/sceau/b2b/webhooks`` and ``/api/v1/sceau/b2b/livraisons``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.db import utcnow
from sceau.events.service import delivery_json, get_delivery, list_deliveries, redeliver
from sceau.http import require_json, runtime_of
from sceau.runtime import Runtime
from sceau.webhooks import service
from sceau.webhooks.models import WebhookEndpoint
from sceau.webhooks.signatures import SecretBox

router = APIRouter(prefix="/api/v1/sceau/b2b", tags=["Événements et webhooks"])

Client = Annotated[AuthenticatedClient, Depends(authenticated_client)]
# After the client's authentication: a body not sent as JSON is a 415.
JsonBody = Annotated[None, Depends(require_json)]

# What each route answers beyond what every route of its kind does (the
# authentication's refusals, a parameter or a body refused, 503: see
# sceau.openapi).
_UNKNOWN_ENDPOINT: dict[int | str, dict[str, Any]] = {
    404: {"description": "Point de terminaison inconnu (ou d'un autre client)."},
}
_REFUSED_ENDPOINT: dict[int | str, dict[str, Any]] = {
    422: {"description": "Adresse refusée ou type d'événement inconnu."},
}
_UNKNOWN_TYPE: dict[int | str, dict[str, Any]] = {
    422: {"description": "Type d'événement inconnu."},
}
_UNKNOWN_DELIVERY: dict[int | str, dict[str, Any]] = {
    404: {"description": "Livraison inconnue (ou d'un autre client)."},
}
_REFUSED_FILTER: dict[int | str, dict[str, Any]] = {
    422: {"description": "Filtre de livraisons invalide (état inconnu)."},
}
_DISABLED_ENDPOINT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Point de terminaison désactivé : réactivez-le d'abord."},
}


class EndpointRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description="Adresse https:// du récepteur.")
    evenements: list[str] = Field(
        default_factory=list,
        description="Types d'événements reçus ; vide : tous les types.",
    )


class EndpointChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actif: bool | None = Field(default=None, description="true pour réactiver.")
    evenements: list[str] | None = None


def _box(runtime: Runtime) -> SecretBox:
    return SecretBox(runtime.settings.load_master_key())


def _endpoint_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "origine": endpoint.origin,
        "evenements": endpoint.types,
        "actif": endpoint.active,
        "desactive_le": (
            endpoint.disabled_at.isoformat() if endpoint.disabled_at else None
        ),
        "desactive_motif": endpoint.disabled_reason,
        "cree_le": endpoint.created_at.isoformat(),
    }


@router.post(
    "/webhooks",
    status_code=201,
    responses=_REFUSED_ENDPOINT,
    summary="Enregistrer un point de terminaison webhook",
)
async def create_endpoint(
    request: Request, client: Client, _json: JsonBody, body: EndpointRequest
) -> dict[str, Any]:
    """Renvoie le point de terminaison et son secret `whsec_…` (à conserver)."""
    runtime = runtime_of(request)

    def work() -> dict[str, Any]:
        with runtime.db.transaction() as session:
            made = service.add_endpoint(
                session,
                _box(runtime),
                client_id=client.client_id,
                url=body.url,
                event_types=body.evenements,
                allow_http_loopback=runtime.settings.allow_http_loopback_callbacks,
            )
            return {**_endpoint_json(made.endpoint), "secret": made.secret}

    return await run_in_threadpool(work)


@router.get("/webhooks", summary="Lister les webhooks")
async def list_endpoints(request: Request, client: Client) -> list[dict[str, Any]]:
    runtime = runtime_of(request)

    def work() -> list[dict[str, Any]]:
        with runtime.db.sessions() as session:
            return [
                _endpoint_json(e)
                for e in service.list_endpoints(session, client.client_id)
            ]

    return await run_in_threadpool(work)


@router.get("/webhooks/{endpoint_id}", responses=_UNKNOWN_ENDPOINT)
async def read_endpoint(
    request: Request, client: Client, endpoint_id: str
) -> dict[str, Any]:
    runtime = runtime_of(request)

    def work() -> dict[str, Any]:
        with runtime.db.sessions() as session:
            return _endpoint_json(
                service.get_endpoint(session, endpoint_id, client.client_id)
            )

    return await run_in_threadpool(work)


@router.patch(
    "/webhooks/{endpoint_id}", responses={**_UNKNOWN_ENDPOINT, **_UNKNOWN_TYPE}
)
async def change_endpoint(
    request: Request,
    client: Client,
    endpoint_id: str,
    _json: JsonBody,
    body: EndpointChange,
) -> dict[str, Any]:
    """Réactiver (`{"actif": true}`), désactiver, ou changer les types reçus."""
    runtime = runtime_of(request)

    def work() -> dict[str, Any]:
        with runtime.db.transaction() as session:
            endpoint = service.get_endpoint(session, endpoint_id, client.client_id)
            if body.evenements is not None:
                service.set_event_types(endpoint, body.evenements)
            if body.actif is True:
                service.enable_endpoint(endpoint)
            elif body.actif is False and endpoint.active:
                service.disable_endpoint(
                    session, endpoint, "désactivé par le client", utcnow()
                )
            return _endpoint_json(endpoint)

    return await run_in_threadpool(work)


@router.delete("/webhooks/{endpoint_id}", status_code=204, responses=_UNKNOWN_ENDPOINT)
async def delete_endpoint(
    request: Request, client: Client, endpoint_id: str
) -> Response:
    runtime = runtime_of(request)

    def work() -> None:
        with runtime.db.transaction() as session:
            service.remove_endpoint(
                session, service.get_endpoint(session, endpoint_id, client.client_id)
            )

    await run_in_threadpool(work)
    return Response(status_code=204)


@router.get(
    "/webhooks/{endpoint_id}/secret",
    responses=_UNKNOWN_ENDPOINT,
    summary="Lire le secret de signature",
)
async def read_secret(
    request: Request, client: Client, endpoint_id: str
) -> dict[str, Any]:
    """Le secret courant et, pendant une rotation, le précédent."""
    runtime = runtime_of(request)

    def work() -> dict[str, Any]:
        with runtime.db.transaction() as session:
            endpoint = service.get_endpoint(session, endpoint_id, client.client_id)
            box = _box(runtime)
            current = service.current_secret(session, box, endpoint)
            live = service.live_secrets(box, endpoint, utcnow())
            return {
                "id": endpoint.id,
                "secret": current,
                "secret_precedent": live[1] if len(live) > 1 else None,
                "secret_precedent_jusqu_au": (
                    endpoint.previous_secret_until.isoformat()
                    if len(live) > 1 and endpoint.previous_secret_until
                    else None
                ),
            }

    return await run_in_threadpool(work)


@router.post(
    "/webhooks/{endpoint_id}/rotation",
    responses=_UNKNOWN_ENDPOINT,
    summary="Changer le secret de signature",
)
async def rotate_secret(
    request: Request, client: Client, endpoint_id: str
) -> dict[str, Any]:
    """Un nouveau secret ; l'ancien signe encore pendant le recouvrement (24 h)."""
    runtime = runtime_of(request)

    def work() -> dict[str, Any]:
        with runtime.db.transaction() as session:
            endpoint = service.get_endpoint(session, endpoint_id, client.client_id)
            secret = service.rotate_secret(
                session,
                _box(runtime),
                endpoint,
                timedelta(hours=runtime.settings.webhook_secret_overlap_hours),
            )
            return {
                "id": endpoint.id,
                "secret": secret,
                "secret_precedent_jusqu_au": (
                    endpoint.previous_secret_until.isoformat()
                    if endpoint.previous_secret_until
                    else None
                ),
            }

    return await run_in_threadpool(work)


@router.get("/livraisons", responses=_REFUSED_FILTER, summary="Lister les livraisons")
async def deliveries(
    request: Request,
    client: Client,
    etat: str | None = None,
    webhook: str | None = None,
    evenement: str | None = None,
    limite: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """Les livraisons de vos événements, les plus récentes d'abord, avec chaque
    tentative (statut HTTP, durée, erreur)."""
    runtime = runtime_of(request)

    def work() -> list[dict[str, Any]]:
        with runtime.db.sessions() as session:
            return [
                delivery_json(view)
                for view in list_deliveries(
                    session,
                    client_id=client.client_id,
                    endpoint_id=webhook,
                    status=etat,
                    event_id=evenement,
                    limit=limite,
                )
            ]

    return await run_in_threadpool(work)


@router.get("/livraisons/{delivery_id}", responses=_UNKNOWN_DELIVERY)
async def delivery(
    request: Request, client: Client, delivery_id: str
) -> dict[str, Any]:
    runtime = runtime_of(request)

    def work() -> dict[str, Any]:
        with runtime.db.sessions() as session:
            return delivery_json(get_delivery(session, delivery_id, client.client_id))

    return await run_in_threadpool(work)


@router.post(
    "/livraisons/{delivery_id}/relivraison",
    status_code=202,
    responses={**_UNKNOWN_DELIVERY, **_DISABLED_ENDPOINT},
    summary="Demander une nouvelle livraison",
)
async def redeliver_route(
    request: Request, client: Client, delivery_id: str
) -> dict[str, Any]:
    """Renvoie l'événement à la même destination, avec le même `webhook-id`."""
    runtime = runtime_of(request)

    def work() -> dict[str, Any]:
        with runtime.db.transaction() as session:
            again = redeliver(session, delivery_id, client.client_id)
            return {"id": again.id, "origine": delivery_id, "etat": again.status}

    return await run_in_threadpool(work)
