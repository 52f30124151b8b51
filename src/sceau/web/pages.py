"""The HTTP side of the pages: templates, security headers, cookies, the
session and CSRF checks, and errors drawn as pages instead of JSON.

Routes of any page under ``/signer`` (the signer's own, and act pages built on
them) and of the public verification page (``/verifier-signature``) use these
helpers: ``signed_in`` or ``require_signed_in`` for who is
there, ``check_csrf`` on every POST, ``render`` for the answer.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import segno
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from sceau.db import storage_failure, utcnow
from sceau.errors import SceauError
from sceau.http import runtime_of
from sceau.ops.security_headers import PAGE_HEADERS
from sceau.verification.links import VERIFICATION_PAGE_PATH
from sceau.web import csrf
from sceau.web.errors import CsrfRefused, SessionRequired
from sceau.web.sessions import SignedIn, resume_session

logger = logging.getLogger(__name__)

ErrorPage = Callable[[Request, SceauError, Mapping[str, str] | None], Response]
# Sections with sessions of their own (the console) draw their own error
# pages; they register here when their routes are imported.
SECTION_ERROR_PAGES: dict[str, ErrorPage] = {}

PREFIX = "/signer"
CONSOLE_PREFIX = "/console"
# Every path for people rather than programs: errors there are drawn as pages.
PAGE_PREFIXES = (PREFIX, VERIFICATION_PAGE_PATH, CONSOLE_PREFIX)
SECTION_NAMES = {
    PREFIX: "espace de signature",
    VERIFICATION_PAGE_PATH: "vérification de signature",
}
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "sceau_session"
VISITOR_COOKIE = "sceau_visiteur"
CSRF_FIELD = "csrf"
LOGIN_PAGE = f"{PREFIX}/connexion"
NEXT_FIELD = "suivant"

# Where a login may lead back to: a page of the signer, by its path alone.
# Plain segments only, so that neither "//host", "/\host", a scheme, ".." nor
# an encoded character can turn it into another site or another path.
_LOCAL_PAGE = re.compile(r"^/signer(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*$")
_MAX_NEXT = 200

_templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["date_fr"] = lambda moment: moment.strftime("%d/%m/%Y à %H:%M UTC")


def safe_next(target: str | None) -> str | None:
    """``target`` if it is one of the signer's own pages, else ``None``: the
    login never sends anyone to another site (no open redirect)."""
    if not target or len(target) > _MAX_NEXT or not _LOCAL_PAGE.match(target):
        return None
    if target == LOGIN_PAGE or target.startswith(LOGIN_PAGE + "/"):
        return None
    return target


def login_url(next_page: str | None = None) -> str:
    """The login page, coming back to ``next_page`` once logged in."""
    target = safe_next(next_page)
    if target is None or target == PREFIX:
        return LOGIN_PAGE
    return f"{LOGIN_PAGE}?{urlencode({NEXT_FIELD: target})}"


def page_prefix(path: str) -> str | None:
    """The section of pages ``path`` belongs to, or None for the API."""
    for prefix in PAGE_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return None


def is_page(request: Request) -> bool:
    return page_prefix(request.url.path) is not None


def now_of(request: Request) -> datetime:
    """The time the pages go by: the real one, unless a test froze it on the
    application (``app.state.web_clock``)."""
    clock = getattr(request.app.state, "web_clock", None)
    return clock() if clock is not None else utcnow()


def client_address(request: Request) -> str:
    """The peer the middleware established (through the front when there is
    one), for per-address login limits; never logged in full."""
    peer = request.scope.get("state", {}).get("peer")
    address = getattr(peer, "address", None)
    return address or "inconnue"


# -- who is there ----------------------------------------------------------------


def signed_in(request: Request) -> SignedIn | None:
    cached = request.scope.get("state", {}).get("web_signed_in")
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
        request.scope.setdefault("state", {})["web_signed_in"] = found
    return found


def require_signed_in(request: Request) -> SignedIn:
    """A FastAPI dependency: the person, or a redirect to the login page."""
    found = signed_in(request)
    if found is None:
        raise SessionRequired()
    return found


# -- CSRF ------------------------------------------------------------------------


def _csrf_key(request: Request) -> bytes:
    return csrf.csrf_key(runtime_of(request).settings.load_master_key())


class HasSession(Protocol):
    """Anyone signed in, to the signer or to the console: their session's id
    is what binds the CSRF token."""

    @property
    def session_id(self) -> str: ...


def csrf_token(request: Request, who: HasSession | None) -> str:
    """The token for the forms of this page: bound to the session, or, before
    login, to the visitor cookie (set by ``render`` when missing)."""
    key = _csrf_key(request)
    if who is not None:
        return csrf.for_session(key, who.session_id)
    return csrf.for_visitor(key, visitor_token(request))


def visitor_token(request: Request) -> str:
    state = request.scope.setdefault("state", {})
    token = state.get("web_visitor") or request.cookies.get(VISITOR_COOKIE)
    if not token:
        token = secrets.token_urlsafe(24)
        state["web_visitor_new"] = True
    state["web_visitor"] = token
    return str(token)


async def check_csrf(
    request: Request,
    who: HasSession | None,
    *,
    refused_event: str = "web.csrf_refused",
    section_logger: logging.Logger = logger,
) -> None:
    """Refuse a POST whose form does not carry this session's (or this
    visitor's) token; the section logs the refusal as ``refused_event``."""
    form = await request.form()
    given = form.get(CSRF_FIELD)
    key = _csrf_key(request)
    if who is not None:
        expected = csrf.for_session(key, who.session_id)
    else:
        visitor = request.cookies.get(VISITOR_COOKIE)
        if not visitor:
            raise CsrfRefused(
                "Votre navigateur n'a pas renvoyé le cookie de ce formulaire : "
                "autorisez les cookies pour ce site, rechargez la page et "
                "recommencez."
            )
        expected = csrf.for_visitor(key, visitor)
    if not csrf.matches(expected, given if isinstance(given, str) else None):
        section_logger.info(refused_event, extra={"path": request.url.path})
        raise CsrfRefused()


# -- answers ---------------------------------------------------------------------


def totp_setup_values(secret: str, provisioning_uri: str) -> dict[str, str]:
    """What an enrolment page shows of a new TOTP secret: its QR code, and the
    secret in groups of four for those who type it by hand."""
    qr = segno.make(provisioning_uri, error="m")
    return {
        "secret_groups": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "qr_svg": qr.svg_inline(
            scale=5, border=4, omitsize=True, title="Code QR à scanner"
        ),
    }


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    who: SignedIn | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page, with its CSRF token, the security headers and, before login,
    the visitor cookie the token is bound to."""
    home = page_prefix(request.url.path) or PREFIX
    values = {
        "home": home,
        "section": SECTION_NAMES[home],
        "signed_in": who,
        "csrf_field": CSRF_FIELD,
        "csrf": csrf_token(request, who),
        "static": f"{PREFIX}/static",
        **(context or {}),
    }
    html = _templates.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status)
    secure_headers(response)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if request.scope.get("state", {}).get("web_visitor_new"):
        # Scoped to the section: the verification page's visitor is not the
        # signer's, and neither cookie travels to the API.
        set_cookie(request, response, VISITOR_COOKIE, visitor_token(request), path=home)
    return response


def redirect(request: Request, url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    secure_headers(response)
    return response


def secure_headers(response: Response) -> Response:
    # The middleware adds them to every page too; set here as well so that a
    # page answered in a route carries them whatever runs around it.
    for name, value in PAGE_HEADERS.items():
        response.headers[name] = value
    return response


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    max_age: int = 0,
    path: str = PREFIX,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age or None,
        path=path,
        secure=_over_tls(request),
        httponly=True,
        # Lax, not Strict: a link from an e-mail (an act to sign) must land
        # logged in; every state change is a POST with a CSRF token anyway.
        samesite="lax",
    )


def clear_cookie(
    request: Request, response: Response, name: str, *, path: str = PREFIX
) -> None:
    response.delete_cookie(
        name, path=path, secure=_over_tls(request), httponly=True, samesite="lax"
    )


def _over_tls(request: Request) -> bool:
    public = runtime_of(request).settings.public_base_url
    # Through the mutual-TLS front, the connection to the application is a
    # Unix socket, but the browser's was TLS.
    peer = request.scope.get("state", {}).get("peer")
    return (
        public.startswith("https://")
        or request.url.scheme == "https"
        or bool(getattr(peer, "via_front", False))
    )


# -- errors ----------------------------------------------------------------------


def page_error_response(
    request: Request, error: SceauError, headers: Mapping[str, str] | None = None
) -> Response:
    """A domain error met on a page, as a French page with its status
    (and its headers: Retry-After on a 429, Allow on a 405)."""
    section_page = SECTION_ERROR_PAGES.get(page_prefix(request.url.path) or "")
    if section_page is not None:
        return section_page(request, error, headers)
    if isinstance(error, SessionRequired):
        # A page opened from a link (an act in an e-mail) is where the login
        # should lead back to; a POST's target is not a page to return to.
        wanted = request.url.path if request.method in ("GET", "HEAD") else None
        return redirect(request, login_url(wanted))
    if error.status >= 500:
        logger.warning("web.page_failed", extra={"code": error.code})
    try:
        who = signed_in(request)
    except Exception as exc:
        # The error page must not fail because the database is what failed;
        # an outage is one line, anything else a bug with its trace.
        logger.warning(
            "web.error_page_without_session",
            exc_info=storage_failure(exc) is None,
        )
        who = None
    return render(
        request,
        "erreur.html",
        {"error": error},
        status=error.status,
        who=who,
        headers={**(headers or {}), **(error.headers or {})},
    )
