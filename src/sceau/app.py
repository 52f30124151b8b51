"""The FastAPI application: routers, middleware, error handlers, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from sceau import __version__
from sceau.acts.routes import router as acts_router
from sceau.anchoring.routes import router as anchoring_router
from sceau.authority.routes import router as authority_router
from sceau.billing.routes import router as billing_router
from sceau.catalogue.routes import router as catalogue_router
from sceau.clients.routes import router as credentials_router
from sceau.console.routes import router as console_router
from sceau.db import storage_failure, storage_reason
from sceau.delegations.routes import router as delegations_router
from sceau.errors import BadRequest, SceauError
from sceau.events.worker import BackgroundWorker, DeliveryWorker
from sceau.evidence.routes import router as evidence_router
from sceau.http import error_response
from sceau.lifecycle.routes import router as integration_router
from sceau.modes.auto_routes import router as auto_router
from sceau.modes.routes import router as signing_router
from sceau.openapi import install as describe_shared_responses
from sceau.ops.middleware import RequestContextMiddleware
from sceau.ops.routes import router as ops_router
from sceau.ops.security_headers import documentation_policies
from sceau.pki.routes import router as pki_router
from sceau.runtime import Runtime
from sceau.settings import Settings, get_settings
from sceau.signing.routes import router as signatures_router
from sceau.sla.recorder import PeriodicFlush
from sceau.sla.routes import router as sla_router
from sceau.timestamping.routes import router as tsa_router
from sceau.tls.front import front_token_of
from sceau.verification.page_routes import router as verification_page_router
from sceau.verification.routes import router as verification_router
from sceau.web.act_routes import router as web_acts_router
from sceau.web.delegation_routes import router as web_delegations_router
from sceau.web.pages import PAGE_PREFIXES, STATIC_DIR, is_page, page_error_response
from sceau.web.pages import PREFIX as PAGES_PREFIX
from sceau.web.routes import router as web_router
from sceau.webhooks.routes import router as webhooks_router

logger = logging.getLogger(__name__)

DESCRIPTION = """\
API B2B de Pixel Sceau : signatures PAdES horodatées (RFC 3161) et ancrées dans
Bitcoin (OpenTimestamps). Authentification de niveau A par l'en-tête
`X-Identity-API-Key`. Toutes les erreurs ont la forme
`{"erreur": {"code": "…", "message": "…"}}`.
"""

DOCS_URL = "/docs"
_HTTP_CODES = {
    404: ("ressource_introuvable", "Aucune ressource à cette adresse."),
    405: ("methode_non_autorisee", "Cette méthode HTTP n'est pas acceptée ici."),
}


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    *,
    delivery_worker: bool | None = None,
) -> FastAPI:
    """The app; with no ``runtime`` it makes its own and, unless
    SCEAU_WORKER_IN_SERVE is false, runs a delivery worker beside it. A caller
    that passes a runtime gets a worker only by asking (``delivery_worker``).
    The anchoring worker is a process of its own, started by ``sceau serve``."""
    settings = settings or get_settings()
    with_worker = (
        delivery_worker
        if delivery_worker is not None
        else runtime is None and settings.worker_in_serve
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is None:
            app.state.runtime = Runtime(settings)
            app.state.runtime.prepare()
        # The request counts are this process's: it flushes them itself,
        # whether or not a worker loop runs here (SCEAU_WORKER_IN_SERVE).
        sla_flush = PeriodicFlush(
            app.state.runtime.db, app.state.runtime.settings.sla_chore_seconds
        )
        sla_flush.start()
        background = None
        if with_worker:
            background = BackgroundWorker(
                DeliveryWorker.for_runtime(app.state.runtime),
                app.state.runtime.settings.worker_poll_seconds,
            )
            background.start()
        yield
        if background is not None:
            # Off the event loop: the attempt in flight may take a while.
            await run_in_threadpool(background.stop)
        # Stopped and flushed once more while the runtime is still open.
        await run_in_threadpool(sla_flush.stop)
        if runtime is None:
            app.state.runtime.close()

    app = FastAPIOffline(
        title="Pixel Sceau — API B2B",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # An integrator's trailing slash is a wrong address, not a redirect to
        # follow with a POST body.
        redirect_slashes=False,
        # ReDoc writes its styles inline as it runs, which the strict
        # Content-Security-Policy refuses; /docs (Swagger UI) draws under it.
        redoc_url=None,
        docs_url=DOCS_URL,
    )
    if runtime is not None:
        app.state.runtime = runtime
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        front_token=(
            front_token_of(settings.front_socket) if settings.front_socket else None
        ),
        page_prefixes=PAGE_PREFIXES,
        documentation_policies=documentation_policies(
            app, (DOCS_URL, app.swagger_ui_oauth2_redirect_url or "")
        ),
    )

    for router in (
        signing_router,
        signatures_router,
        auto_router,
        acts_router,
        catalogue_router,
        integration_router,
        authority_router,
        billing_router,
        delegations_router,
        credentials_router,
        anchoring_router,
        tsa_router,
        pki_router,
        ops_router,
        webhooks_router,
        web_router,
        web_acts_router,
        web_delegations_router,
        console_router,
        verification_router,
        verification_page_router,
        sla_router,
        evidence_router,
    ):
        app.include_router(router)
    app.mount(
        f"{PAGES_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="web-static"
    )

    _install_error_handlers(app)
    describe_shared_responses(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SceauError)
    async def on_sceau_error(request: Request, exc: SceauError) -> Response:
        if exc.status >= 500:
            logger.warning("request.failed", extra={"code": exc.code})
        return await _answer(request, exc, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(
        request: Request, exc: RequestValidationError
    ) -> Response:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5])
        return await _answer(
            request,
            BadRequest(f"Paramètres invalides : {fields}.", code="parametre_invalide"),
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code, message = _HTTP_CODES.get(
            exc.status_code, ("erreur_http", "La requête n'a pas pu être servie.")
        )
        error = SceauError(message, code=code)
        error.status = exc.status_code
        # Keep what the framework said, such as Allow on a 405.
        headers = dict(exc.headers or {})
        allowed = _allowed_methods(request) if exc.status_code == 405 else ""
        if allowed:
            headers["Allow"] = allowed
        return await _answer(request, error, headers=headers)

    async def on_storage_error(request: Request, exc: Exception) -> Response:
        # The database unreachable or the disk full: a 503 the client can
        # retry, its transaction rolled back whole. Anything else of these
        # types is a bug, as below.
        failure = storage_failure(exc)
        if failure is None:
            return await on_unexpected(request, exc)
        # A deadlock or a statement timeout may hide a bug: with its trace.
        logger.error(
            "request.storage_failed",
            extra={"code": failure.code, "reason": storage_reason(exc)},
            exc_info=exc if failure.log_trace else None,
        )
        return await _answer(request, failure, headers=failure.headers)

    for kind in (DBAPIError, PoolTimeout, OSError):
        app.add_exception_handler(kind, on_storage_error)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # Raised outside the routes (a middleware) or wrapped in another
        # exception: still a storage failure when its chain says so.
        if storage_failure(exc) is not None:
            return await on_storage_error(request, exc)
        # A bug, never a client's fault: logged with its trace, answered
        # without internals.
        logger.exception("request.unexpected_error")
        return await _answer(request, SceauError())


def _allowed_methods(request: Request) -> str:
    """Every method declared at the path of the route the router found: the
    framework's Allow names that route's alone, when a path has several (a
    GET and a POST declared apart). Empty when there was no route."""
    found = getattr(request.scope.get("route"), "path_format", None)
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if found is not None and route.path_format == found:
            methods |= set(route.methods or ())
    return ", ".join(sorted(methods))


async def _answer(
    request: Request, error: SceauError, headers: dict[str, str] | None = None
) -> Response:
    """The API answers errors in JSON; the pages (the signer's, the public
    verification), as pages."""
    if is_page(request):
        # Off the event loop: the page looks up the session to draw its banner.
        return await run_in_threadpool(page_error_response, request, error, headers)
    return error_response(error, headers=headers)
