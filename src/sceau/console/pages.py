"""The HTTP side of the console's pages: who is there, what they may see and
do, CSRF on every form, templates and French error pages.

It leans on the web signer's helpers (``sceau.web.pages``: security headers,
the clock, cookies, the visitor token, CSRF tokens) and keeps only what
differs: its own session cookie, scoped to ``/console``, and its own pages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from sceau.clients.models import Client
from sceau.clients.service import PLAN_NAMES
from sceau.console.charts import french_number
from sceau.console.errors import (
    ConsolePageNotFound,
    ConsoleSessionRequired,
    OperatorOnly,
    ReadOnlyRole,
)
from sceau.console.models import ROLE_ADMIN, ROLE_OPERATOR, ROLE_READER
from sceau.console.sessions import ConsoleSignedIn, resume_session
from sceau.db import storage_failure
from sceau.errors import SceauError
from sceau.http import runtime_of
from sceau.lifecycle.models import STATE_NAMES
from sceau.modes.names import MODE_NAMES
from sceau.web.pages import (
    CONSOLE_PREFIX,
    CSRF_FIELD,
    PREFIX,
    SECTION_ERROR_PAGES,
    TEMPLATES_DIR,
    VISITOR_COOKIE,
    csrf_token,
    now_of,
    redirect,
    secure_headers,
    set_cookie,
    visitor_token,
)
from sceau.web.pages import check_csrf as check_form_token

logger = logging.getLogger(__name__)

SESSION_COOKIE = "sceau_console"
LOGIN_PAGE = f"{CONSOLE_PREFIX}/connexion"
ROLE_LABELS = {
    ROLE_ADMIN: "administrateur",
    ROLE_READER: "lecteur",
    ROLE_OPERATOR: "opérateur",
}
# The pages of one client, by their path below /console/clients/{id}.
CLIENT_TABS = (
    ("", "Accueil"),
    ("/cles", "Clés"),
    ("/acces", "Certificats et IP"),
    ("/webhooks", "Webhooks"),
    ("/delegations", "Délégations"),
    ("/matrice", "Matrice d'autorité"),
    ("/incidents", "Incidents"),
    ("/consommation", "Consommation et factures"),
    ("/sla", "Indicateurs SLA"),
)
OPERATOR_TABS = (("/cycle", "Cycle de vie"),)

_templates = Environment(
    loader=ChoiceLoader(
        [
            FileSystemLoader(Path(__file__).parent / "templates"),
            # The web signer's form macros (_forms.html).
            FileSystemLoader(TEMPLATES_DIR),
        ]
    ),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["date_fr"] = lambda moment: moment.strftime("%d/%m/%Y à %H:%M UTC")
_templates.filters["jour_fr"] = lambda day: day.strftime("%d/%m/%Y")
_templates.filters["xof"] = lambda amount: f"{amount:,}".replace(",", "\u202f")
_templates.filters["nombre_fr"] = french_number
_templates.filters["mode_fr"] = lambda mode: MODE_NAMES.get(mode, mode)
_templates.filters["etape_fr"] = lambda state: STATE_NAMES.get(state, state)
_templates.filters["formule_fr"] = lambda plan: PLAN_NAMES.get(plan, plan)


# -- who is there, and what they may do ----------------------------------------


def signed_in(request: Request) -> ConsoleSignedIn | None:
    state = request.scope.setdefault("state", {})
    cached = state.get("console_signed_in")
    if cached is not None:
        return cached
    runtime = runtime_of(request)
    found = resume_session(
        runtime.db,
        runtime.settings,
        request.cookies.get(SESSION_COOKIE),
        now=now_of(request),
    )
    if found is not None:
        state["console_signed_in"] = found
    return found


def require_signed_in(request: Request) -> ConsoleSignedIn:
    """A FastAPI dependency: the user, or (as an error) the login page."""
    found = signed_in(request)
    if found is None:
        raise ConsoleSessionRequired()
    return found


def client_in_view(session: Session, who: ConsoleSignedIn, client_id: str) -> Client:
    """The client whose pages ``who`` asks for: any client for the operator,
    their own for anyone else; another client's reads as no page at all."""
    if not who.is_operator and who.client_id != client_id:
        raise ConsolePageNotFound()
    client = session.get(Client, client_id)
    if client is None:
        raise ConsolePageNotFound()
    return client


def require_change(who: ConsoleSignedIn) -> None:
    if not who.can_change:
        raise ReadOnlyRole()


def require_operator(who: ConsoleSignedIn) -> None:
    if not who.is_operator:
        raise OperatorOnly()


# -- CSRF ------------------------------------------------------------------------


async def check_csrf(request: Request, who: ConsoleSignedIn | None) -> None:
    """Refuse a POST whose form lacks this session's (or visitor's) token."""
    await check_form_token(
        request, who, refused_event="console.csrf_refused", section_logger=logger
    )


# -- answers ---------------------------------------------------------------------


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    who: ConsoleSignedIn | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A console page, with its CSRF token and the signer's security headers."""
    values = {
        "home": CONSOLE_PREFIX,
        "signed_in": who,
        "csrf_field": CSRF_FIELD,
        "csrf": csrf_token(request, who),
        "static": f"{PREFIX}/static",
        "client": None,
        "tab": "",
        "role_labels": ROLE_LABELS,
        "tabs": CLIENT_TABS + (OPERATOR_TABS if who and who.is_operator else ()),
        **(context or {}),
    }
    html = _templates.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status)
    secure_headers(response)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if request.scope.get("state", {}).get("web_visitor_new"):
        set_cookie(
            request,
            response,
            VISITOR_COOKIE,
            visitor_token(request),
            path=CONSOLE_PREFIX,
        )
    return response


def error_page(
    request: Request, error: SceauError, headers: Mapping[str, str] | None = None
) -> Response:
    """A domain error met under /console, as a French page with its status;
    an ended session leads to the login page."""
    if isinstance(error, ConsoleSessionRequired):
        return redirect(request, LOGIN_PAGE)
    if error.status >= 500:
        logger.warning("console.page_failed", extra={"code": error.code})
    try:
        who = signed_in(request)
    except Exception as exc:
        # The error page must not fail because the database is what failed;
        # an outage is one line, anything else a bug with its trace.
        logger.warning(
            "console.error_page_without_session",
            exc_info=storage_failure(exc) is None,
        )
        who = None
    return render(
        request,
        "console/erreur.html",
        {"error": error},
        status=error.status,
        who=who,
        headers={**(headers or {}), **(error.headers or {})},
    )


SECTION_ERROR_PAGES[CONSOLE_PREFIX] = error_page


# -- dependencies ----------------------------------------------------------------


async def _visitor_form(request: Request) -> None:
    """A POST before login: the form must carry the visitor cookie's token."""
    await check_csrf(request, None)


async def _session_form(request: Request) -> ConsoleSignedIn:
    who = await run_in_threadpool(require_signed_in, request)
    await check_csrf(request, who)
    return who


async def _change_form(request: Request) -> ConsoleSignedIn:
    """A POST that changes something: a reader is refused whatever the form."""
    who = await _session_form(request)
    require_change(who)
    return who


async def _operator_form(request: Request) -> ConsoleSignedIn:
    who = await _session_form(request)
    require_operator(who)
    return who


Who = Annotated[ConsoleSignedIn, Depends(require_signed_in)]
WhoPost = Annotated[ConsoleSignedIn, Depends(_session_form)]
ChangePost = Annotated[ConsoleSignedIn, Depends(_change_form)]
OperatorPost = Annotated[ConsoleSignedIn, Depends(_operator_form)]
VisitorPost = Annotated[None, Depends(_visitor_form)]
