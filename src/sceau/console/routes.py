"""The console's router: enrolment, login, logout and the home page, which
sends a client's user to their client and the operator to the client list;
the client's pages and the operator's are included from their modules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from sceau.console import client_routes, operator_routes, usage_routes
from sceau.console.login import record_login, record_logout, verify_login
from sceau.console.pages import (
    LOGIN_PAGE,
    SESSION_COOKIE,
    VisitorPost,
    Who,
    check_csrf,
    render,
    signed_in,
)
from sceau.console.sessions import (
    end_session,
    open_session,
    reference_of_token,
    session_reference,
)
from sceau.console.users import finish_enrolment, start_enrolment
from sceau.errors import SceauError
from sceau.http import runtime_of
from sceau.people.errors import EnrolmentLinkInvalid
from sceau.web.errors import PasswordsDiffer
from sceau.web.pages import (
    CONSOLE_PREFIX,
    clear_cookie,
    client_address,
    now_of,
    redirect,
    set_cookie,
    totp_setup_values,
)

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)


# -- enrolment -------------------------------------------------------------------


@router.get("/inscription/{token}", response_class=HTMLResponse)
def enrolment_page(token: str, request: Request) -> Response:
    return _enrolment_form(request, token)


@router.post("/inscription/{token}", response_class=HTMLResponse)
def enrolment_submit(
    token: str,
    request: Request,
    _: VisitorPost,
    mot_de_passe: Annotated[str, Form()] = "",
    mot_de_passe_confirmation: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    runtime = runtime_of(request)
    try:
        if mot_de_passe != mot_de_passe_confirmation:
            raise PasswordsDiffer()
        with runtime.db.transaction() as session:
            finish_enrolment(
                session,
                runtime.sealer,
                runtime.settings,
                token,
                password=mot_de_passe,
                first_code=code,
                address=client_address(request),
                now=now_of(request),
            )
    except EnrolmentLinkInvalid:
        raise
    except SceauError as error:
        return _enrolment_form(request, token, error=error)
    return render(request, "console/inscription_terminee.html")


def _enrolment_form(
    request: Request, token: str, *, error: SceauError | None = None
) -> Response:
    runtime = runtime_of(request)
    with runtime.db.transaction() as session:
        started = start_enrolment(session, runtime.sealer, token, now=now_of(request))
        user = {
            "name": started.user.name,
            "email": started.user.email,
            "role": started.user.role,
        }
    return render(
        request,
        "console/inscription.html",
        {
            "user": user,
            **totp_setup_values(started.secret, started.provisioning_uri),
            "min_length": runtime.settings.person_password_min_length,
            "error": error,
        },
        status=error.status if error else 200,
    )


# -- login and logout ------------------------------------------------------------


@router.get("/connexion", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    if signed_in(request) is not None:
        return redirect(request, CONSOLE_PREFIX)
    return render(request, "console/connexion.html", {"error": None, "email": ""})


@router.post("/connexion", response_class=HTMLResponse)
def login_submit(
    request: Request,
    _: VisitorPost,
    email: Annotated[str, Form()] = "",
    mot_de_passe: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    runtime = runtime_of(request)
    now = now_of(request)
    try:
        logged_in = verify_login(
            runtime.db,
            runtime.sealer,
            runtime.settings,
            email=email,
            password=mot_de_passe,
            code=code,
            address=client_address(request),
            now=now,
        )
    except SceauError as error:
        return render(
            request,
            "console/connexion.html",
            {"error": error, "email": email[:320]},
            status=error.status,
            headers=error.headers,
        )
    with runtime.db.transaction() as session:
        token = open_session(session, runtime.settings, logged_in.user_id, now=now)
        record_login(
            session,
            logged_in,
            address=client_address(request),
            session_ref=reference_of_token(session, token),
            now=now,
        )
    response = redirect(request, CONSOLE_PREFIX)
    set_cookie(request, response, SESSION_COOKIE, token, path=CONSOLE_PREFIX)
    return response


@router.post("/deconnexion")
async def logout(request: Request) -> Response:
    who = await run_in_threadpool(signed_in, request)
    if who is not None:
        await check_csrf(request, who)
        runtime = runtime_of(request)

        def forget() -> None:
            with runtime.db.transaction() as session:
                end_session(session, who.session_id)
                record_logout(
                    session,
                    user_id=who.user_id,
                    client_id=who.client_id,
                    address=client_address(request),
                    session_ref=session_reference(who.session_id),
                    now=now_of(request),
                )

        await run_in_threadpool(forget)
    response = redirect(request, LOGIN_PAGE)
    clear_cookie(request, response, SESSION_COOKIE, path=CONSOLE_PREFIX)
    return response


# -- home ------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def home(request: Request, who: Who) -> Response:
    if who.is_operator:
        return redirect(request, f"{CONSOLE_PREFIX}/clients")
    return redirect(request, f"{CONSOLE_PREFIX}/clients/{who.client_id}")


# The client's pages and the operator's, all under the router the app includes.
router.include_router(client_routes.router)
router.include_router(usage_routes.router)
router.include_router(operator_routes.router)
