"""The operator's pages: every client with its state and plan, a client's
life-cycle steps, and incident declaration. Included by
``sceau.console.routes`` under /console; the operator alone sees them."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from sceau.billing.service import usage_by_month
from sceau.clients.errors import ClientNotFound
from sceau.clients.service import list_clients
from sceau.console.errors import ConsoleFormInvalid
from sceau.console.pages import (
    OperatorPost,
    Who,
    client_in_view,
    render,
    require_operator,
)
from sceau.console.sessions import ConsoleSignedIn
from sceau.errors import SceauError
from sceau.http import runtime_of
from sceau.incidents import service as incidents
from sceau.lifecycle import service as lifecycle
from sceau.lifecycle.models import CONVENTION, STATES
from sceau.web.pages import CONSOLE_PREFIX, client_address, now_of, redirect

router = APIRouter(include_in_schema=False)


# -- clients ---------------------------------------------------------------------


@router.get("/clients", response_class=HTMLResponse)
def clients_page(request: Request, who: Who) -> Response:
    require_operator(who)
    now = now_of(request)
    with runtime_of(request).db.sessions() as session:
        clients = list_clients(session)
        usage = {
            client.id: usage_by_month(session, client.id, months=1, now=now)[-1]
            for client in clients
        }
    return render(
        request,
        "console/clients.html",
        {"clients": clients, "usage": usage},
        who=who,
    )


# -- life cycle ------------------------------------------------------------------


@router.get("/clients/{client_id}/cycle", response_class=HTMLResponse)
def lifecycle_page(client_id: str, request: Request, who: Who) -> Response:
    require_operator(who)
    return _lifecycle(request, who, client_id)


def _lifecycle(
    request: Request,
    who: ConsoleSignedIn,
    client_id: str,
    *,
    error: SceauError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    with runtime_of(request).db.sessions() as session:
        client = client_in_view(session, who, client_id)
        steps = lifecycle.history(session, client_id)
    index = STATES.index(client.state) if client.state in STATES else -1
    following = STATES[index + 1] if 0 <= index < len(STATES) - 1 else None
    return render(
        request,
        "console/cycle.html",
        {
            "client": client,
            "tab": "/cycle",
            "steps": steps,
            "states": STATES,
            "following": following,
            "needs_agreement": following == CONVENTION,
            "form": form or {},
            "error": error,
        },
        status=error.status if error else 200,
        who=who,
    )


@router.post("/clients/{client_id}/cycle", response_class=HTMLResponse)
def lifecycle_submit(
    client_id: str,
    request: Request,
    who: OperatorPost,
    etape: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    convention: Annotated[str, Form()] = "",
) -> Response:
    form = {"note": note, "convention": convention}
    try:
        agreement = _agreement(convention) if etape == CONVENTION else None
        with runtime_of(request).db.transaction() as session:
            client_in_view(session, who, client_id)
            lifecycle.transition(
                session,
                client_id,
                etape,
                actor=who.actor,
                by=who.audit_actor(client_address(request)),
                settings=runtime_of(request).settings,
                note=note or None,
                agreement=agreement,
                now=now_of(request),
            )
    except SceauError as error:
        return _lifecycle(request, who, client_id, error=error, form=form)
    return redirect(request, f"{CONSOLE_PREFIX}/clients/{client_id}/cycle")


def _agreement(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConsoleFormInvalid(
            "Les paramètres de la convention s'écrivent en JSON, par exemple "
            '{"modes": ["systeme", "humaine"], "niveau": "A", '
            '"matrice_autorite": false, "formule": "forfait", "canal": "webhook"}.',
            code="convention_invalide",
        ) from exc
    if not isinstance(parsed, dict):
        raise ConsoleFormInvalid(
            "Les paramètres de la convention sont un objet JSON.",
            code="convention_invalide",
        )
    return parsed


# -- incidents -------------------------------------------------------------------


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, who: Who) -> Response:
    require_operator(who)
    return _incidents(request, who)


def _incidents(
    request: Request,
    who: ConsoleSignedIn,
    *,
    error: SceauError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    with runtime_of(request).db.sessions() as session:
        found = incidents.list_incidents(session)
        clients = {client.id: client.name for client in list_clients(session)}
    return render(
        request,
        "console/incidents.html",
        {
            "incidents": found,
            "clients": clients,
            "form": form or {},
            "error": error,
        },
        status=error.status if error else 200,
        who=who,
    )


@router.post("/incidents", response_class=HTMLResponse)
def incident_open_submit(
    request: Request,
    who: OperatorPost,
    titre: Annotated[str, Form()] = "",
    impact: Annotated[str, Form()] = "",
    clients: Annotated[str, Form()] = "",
) -> Response:
    scope = clients.replace(",", " ").split()
    try:
        with runtime_of(request).db.transaction() as session:
            incidents.open_incident(
                session,
                title=titre,
                impact=impact,
                client_ids=scope or None,
                by=who.audit_actor(client_address(request)),
                now=now_of(request),
            )
    except ClientNotFound as exc:
        form = {"titre": titre, "impact": impact, "clients": clients}
        error = ConsoleFormInvalid(
            "Un des clients indiqués n'existe pas : vérifiez leurs identifiants "
            "(cli_…) sur la liste des clients.",
            code="client_inconnu",
        )
        error.__cause__ = exc
        return _incidents(request, who, error=error, form=form)
    except SceauError as error:
        form = {"titre": titre, "impact": impact, "clients": clients}
        return _incidents(request, who, error=error, form=form)
    return redirect(request, f"{CONSOLE_PREFIX}/incidents")


@router.post("/incidents/{incident_id}/mise-a-jour", response_class=HTMLResponse)
def incident_update_submit(
    incident_id: str,
    request: Request,
    who: OperatorPost,
    message: Annotated[str, Form()] = "",
) -> Response:
    try:
        with runtime_of(request).db.transaction() as session:
            incidents.update_incident(
                session,
                incident_id,
                message=message,
                by=who.audit_actor(client_address(request)),
                now=now_of(request),
            )
    except SceauError as error:
        if error.status == 404:
            raise
        return _incidents(request, who, error=error)
    return redirect(request, f"{CONSOLE_PREFIX}/incidents")


@router.post("/incidents/{incident_id}/cloture", response_class=HTMLResponse)
def incident_close_submit(
    incident_id: str,
    request: Request,
    who: OperatorPost,
    message: Annotated[str, Form()] = "",
) -> Response:
    try:
        with runtime_of(request).db.transaction() as session:
            incidents.close_incident(
                session,
                incident_id,
                message=message or None,
                by=who.audit_actor(client_address(request)),
                now=now_of(request),
            )
    except SceauError as error:
        if error.status == 404:
            raise
        return _incidents(request, who, error=error)
    return redirect(request, f"{CONSOLE_PREFIX}/incidents")
