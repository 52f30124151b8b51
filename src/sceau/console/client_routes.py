"""A client's pages in the console, under ``/console/clients/{client_id}``:
its home, credentials, certificates and IP allowlist, webhooks, delegations,
authority matrix and incidents. A client's user reaches their own client
only (any other reads as no page); a reader sees every page and changes
nothing (every POST refused with a 403 page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from sceau.authority import service as authority
from sceau.authority.rules import describe_rule, describe_signer
from sceau.billing.service import usage_by_month
from sceau.clients.errors import AllowlistInvalid
from sceau.clients.service import allowlist_of, set_allowlist
from sceau.console import views
from sceau.console.errors import ConsoleFormInvalid
from sceau.console.pages import ChangePost, Who, client_in_view, render
from sceau.console.sessions import ConsoleSignedIn
from sceau.delegations.service import list_delegations
from sceau.errors import SceauError
from sceau.http import runtime_of
from sceau.web.pages import CONSOLE_PREFIX, client_address, now_of, redirect
from sceau.webhooks.service import list_endpoints

# Included by ``sceau.console.routes``, under its /console prefix.
router = APIRouter(prefix="/clients", include_in_schema=False)

DELEGATION_STATUS_LABELS = {
    "a_signer": "à signer",
    "active": "active",
    "refusee": "refusée",
    "revoquee": "révoquée",
    "annulee": "annulée",
    "expiree": "expirée",
}


def client_url(client_id: str, tab: str = "") -> str:
    return f"{CONSOLE_PREFIX}/clients/{client_id}{tab}"


# -- home ------------------------------------------------------------------------


@router.get("/{client_id}", response_class=HTMLResponse)
def client_home(client_id: str, request: Request, who: Who) -> Response:
    runtime = runtime_of(request)
    now = now_of(request)
    with runtime.db.sessions() as session:
        client = client_in_view(session, who, client_id)
        this_month = usage_by_month(session, client_id, months=1, now=now)[-1]
        matrix = authority.current(session, client_id, now)
        open_incidents = [
            i for i in views.incidents_of(session, client_id) if i.status == "ouvert"
        ]
    return render(
        request,
        "console/client.html",
        {
            "client": client,
            "tab": "",
            "usage": this_month,
            "matrix": matrix,
            "open_incidents": open_incidents,
        },
        who=who,
    )


# -- API keys and HMAC secrets ---------------------------------------------------


@router.get("/{client_id}/cles", response_class=HTMLResponse)
def keys_page(client_id: str, request: Request, who: Who) -> Response:
    return _keys(request, who, client_id)


def _keys(
    request: Request,
    who: ConsoleSignedIn,
    client_id: str,
    *,
    error: SceauError | None = None,
) -> Response:
    runtime = runtime_of(request)
    with runtime.db.sessions() as session:
        client = client_in_view(session, who, client_id)
        rows = views.credentials(session, client_id, now_of(request))
    return render(
        request,
        "console/cles.html",
        {
            "client": client,
            "tab": "/cles",
            "rows": rows,
            "kinds": views.KINDS,
            "error": error,
        },
        status=error.status if error else 200,
        who=who,
    )


@router.post("/{client_id}/cles/{kind}/renouveler", response_class=HTMLResponse)
def rotate_submit(
    client_id: str,
    kind: str,
    request: Request,
    who: ChangePost,
    delai_grace_heures: Annotated[str, Form()] = "24",
) -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            client = client_in_view(session, who, client_id)
            rotated = views.rotate(
                session,
                runtime.sealer,
                client_id,
                kind,
                delai_grace_heures,
                now_of(request),
                by=who.audit_actor(client_address(request)),
            )
            name = client.name
    except ConsoleFormInvalid as error:
        return _keys(request, who, client_id, error=error)
    # The secret is in this answer only: it is stored hashed or sealed, and
    # the page is never cached (Cache-Control: no-store).
    return render(
        request,
        "console/cle_nouvelle.html",
        {
            "client": {"id": client_id, "name": name},
            "tab": "/cles",
            "rotated": rotated,
            "kind_label": views.KINDS[rotated.kind],
        },
        who=who,
    )


@router.post("/{client_id}/cles/{kind}/{credential_id}/revoquer")
def revoke_submit(
    client_id: str, kind: str, credential_id: str, request: Request, who: ChangePost
) -> Response:
    with runtime_of(request).db.transaction() as session:
        client_in_view(session, who, client_id)
        views.revoke(
            session,
            client_id,
            kind,
            credential_id,
            by=who.audit_actor(client_address(request)),
        )
    return redirect(request, client_url(client_id, "/cles"))


# -- client certificates and IP allowlist -----------------------------------------


@router.get("/{client_id}/acces", response_class=HTMLResponse)
def access_page(client_id: str, request: Request, who: Who) -> Response:
    return _access(request, who, client_id)


def _access(
    request: Request,
    who: ConsoleSignedIn,
    client_id: str,
    *,
    error: SceauError | None = None,
    typed: str | None = None,
) -> Response:
    with runtime_of(request).db.sessions() as session:
        client = client_in_view(session, who, client_id)
        certificates = views.certificates(session, client_id)
        allowlist = allowlist_of(client)
    return render(
        request,
        "console/acces.html",
        {
            "client": client,
            "tab": "/acces",
            "certificates": certificates,
            "allowlist": allowlist,
            "typed": typed if typed is not None else "\n".join(allowlist),
            "now": now_of(request),
            "error": error,
        },
        status=error.status if error else 200,
        who=who,
    )


@router.post("/{client_id}/certificats/{fingerprint}/revoquer")
def revoke_certificate_submit(
    client_id: str, fingerprint: str, request: Request, who: ChangePost
) -> Response:
    with runtime_of(request).db.transaction() as session:
        client_in_view(session, who, client_id)
        views.revoke_certificate(
            session,
            client_id,
            fingerprint,
            by=who.audit_actor(client_address(request)),
        )
    return redirect(request, client_url(client_id, "/acces"))


@router.post("/{client_id}/liste-ip", response_class=HTMLResponse)
def allowlist_submit(
    client_id: str,
    request: Request,
    who: ChangePost,
    reseaux: Annotated[str, Form()] = "",
) -> Response:
    try:
        with runtime_of(request).db.transaction() as session:
            client_in_view(session, who, client_id)
            set_allowlist(
                session,
                client_id,
                reseaux.splitlines(),
                by=who.audit_actor(client_address(request)),
            )
    except AllowlistInvalid as error:
        return _access(request, who, client_id, error=error, typed=reseaux)
    return redirect(request, client_url(client_id, "/acces"))


# -- webhooks, delegations, matrix, incidents ---------------------------------------


@router.get("/{client_id}/webhooks", response_class=HTMLResponse)
def webhooks_page(client_id: str, request: Request, who: Who) -> Response:
    with runtime_of(request).db.sessions() as session:
        client = client_in_view(session, who, client_id)
        endpoints = list_endpoints(session, client_id)
        deliveries = views.recent_deliveries(session, client_id)
    return render(
        request,
        "console/webhooks.html",
        {
            "client": client,
            "tab": "/webhooks",
            "endpoints": endpoints,
            "deliveries": deliveries,
        },
        who=who,
    )


@router.get("/{client_id}/delegations", response_class=HTMLResponse)
def delegations_page(client_id: str, request: Request, who: Who) -> Response:
    with runtime_of(request).db.sessions() as session:
        client = client_in_view(session, who, client_id)
        states = list_delegations(session, client_id, now=now_of(request))
    return render(
        request,
        "console/delegations.html",
        {
            "client": client,
            "tab": "/delegations",
            "states": states,
            "status_labels": DELEGATION_STATUS_LABELS,
        },
        who=who,
    )


@router.get("/{client_id}/matrice", response_class=HTMLResponse)
def matrix_page(client_id: str, request: Request, who: Who) -> Response:
    with runtime_of(request).db.sessions() as session:
        client = client_in_view(session, who, client_id)
        matrix = authority.current(session, client_id, now_of(request))
    return render(
        request,
        "console/matrice.html",
        {
            "client": client,
            "tab": "/matrice",
            "matrix": matrix,
            "rules": [
                (rule, describe_rule(rule), describe_signer(rule))
                for rule in (matrix.rules if matrix else ())
            ],
        },
        who=who,
    )


@router.get("/{client_id}/incidents", response_class=HTMLResponse)
def incidents_page(client_id: str, request: Request, who: Who) -> Response:
    with runtime_of(request).db.sessions() as session:
        client = client_in_view(session, who, client_id)
        incidents = views.incidents_of(session, client_id)
    return render(
        request,
        "console/incidents_client.html",
        {"client": client, "tab": "/incidents", "incidents": incidents},
        who=who,
    )
