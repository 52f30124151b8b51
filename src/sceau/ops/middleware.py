"""Request ids, the body-size limit, the security headers, request logs, HTTP
metrics and the SLA's request counts, as one pure ASGI middleware (no body
buffering, no per-request task).

It also answers an exception no inner handler took (a bug, or a storage
failure wrapped in another exception) with the application's handler for
``Exception``: Starlette would otherwise call that handler in its outermost
middleware, outside this one, and the 500 or 503 would go out without the
security headers and the request id."""

from __future__ import annotations

import html
import inspect
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sceau.auth.front import peer_of
from sceau.errors import PayloadTooLarge
from sceau.ops.logs import mask_ip, request_id_var
from sceau.ops.metrics import HTTP_LATENCY, HTTP_REQUESTS
from sceau.ops.security_headers import headers_for, is_html
from sceau.sla.recorder import record_request

logger = logging.getLogger(__name__)

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the limit."""


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"Le corps de la requête dépasse la taille autorisée ({limit} octets)."
    )


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        front_token: str | None = None,
        page_prefixes: tuple[str, ...] = (),
        documentation_policies: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.front_token = front_token
        # Paths of pages for people, whose refusals must be pages, not JSON.
        self.page_prefixes = page_prefixes
        # The framework's documentation pages, by exact path, and their
        # policies (see sceau.ops.security_headers.documentation_policies).
        self.documentation_policies = dict(documentation_policies or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _INCOMING_ID.match(incoming) else _new_request_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        state["started"] = started
        peer = peer_of(scope, front_token=self.front_token)
        state["peer"] = peer
        # 500 until a response starts: what the error handler answers to an
        # exception, and what the logs show of a request never answered.
        status_holder = {"status": 500}
        started_answer = False
        failure: BaseException | None = None

        path = str(scope.get("path", ""))
        page = self._page_home(path) is not None
        documentation = self.documentation_policies.get(path)
        over_tls = scope.get("scheme") == "https" or peer.via_front

        async def send_with_id(message: Message) -> None:
            nonlocal started_answer
            if message["type"] == "http.response.start":
                started_answer = True
                status = message["status"]
                status_holder["status"] = status
                given = list(message.get("headers", []))
                present = {name.lower() for name, _ in given}
                html = is_html(_header(given, b"content-type"))
                # The router leaves the mount that answered in the scope.
                static = isinstance(scope.get("endpoint"), StaticFiles) and (
                    status in (200, 304)
                )
                added = headers_for(
                    page=page,
                    html=html,
                    over_tls=over_tls,
                    present=present,
                    policy=documentation if html else None,
                    static=static,
                )
                message["headers"] = [
                    *given,
                    *added,
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            declared = headers.get(b"content-length")
            if declared is not None and _declared_too_large(
                declared, self.max_body_bytes
            ):
                await _send_error(
                    send_with_id,
                    _too_large(self.max_body_bytes),
                    page_home=self._page_home(str(scope.get("path", ""))),
                )
                return
            await self.app(scope, _limited(receive, self.max_body_bytes), send_with_id)
        except Exception as exc:
            # Kept if the handler fails too, so the request still counts as
            # the service's failure.
            failure = exc
            handler = _last_resort(scope)
            if started_answer or handler is None or isinstance(exc, ClientDisconnect):
                raise
            # The handler logs the trace; the exception ends here, answered
            # (a 500, or a 503 for a storage failure).
            answer = handler(Request(scope, receive), exc)
            if inspect.isawaitable(answer):
                answer = await answer
            await answer(scope, receive, send_with_id)
            failure = None
        except BaseException as exc:
            failure = exc
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope.get("method", "")
            status = status_holder["status"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(elapsed)
            _count_for_sla(
                scope,
                method,
                route,
                status,
                elapsed,
                server_error=_server_error(status, started_answer, failure),
            )
            logger.info(
                "http.request",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client_net": mask_ip(peer.address),
                    "client_id": scope["state"].get("client_id"),
                },
            )
            request_id_var.reset(token)

    def _page_home(self, path: str) -> str | None:
        for prefix in self.page_prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return prefix
        return None


def _server_error(status: int, started: bool, failure: BaseException | None) -> bool:
    """Whether the service answered the request with a failure of its own: a
    response it sent with a status of 500 or more, or an exception that went
    unanswered (no handler for it, or the handler failed too). A request
    never answered because the client left (a disconnect, a cancelled task,
    or an app that returned without a response) is not the service's
    failure, and does not make the minute unavailable."""
    if started:
        return status >= 500
    if failure is None or isinstance(failure, ClientDisconnect):
        return False
    return isinstance(failure, Exception)


def _count_for_sla(
    scope: Scope,
    method: str,
    route: str,
    status: int,
    elapsed: float,
    *,
    server_error: bool,
) -> None:
    try:
        record_request(
            scope,
            method=method,
            route=route,
            status=status,
            seconds=elapsed,
            server_error=server_error,
        )
    except Exception:
        # Counting is in memory and should not fail; if it does, the answer
        # has gone already and must not turn into an error.
        logger.exception("sla.count_failed")


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _last_resort(scope: Scope) -> Any:
    """The application's handler for any exception (or for a 500), which
    Starlette would run outside this middleware; None if it has none."""
    handlers = getattr(scope.get("app"), "exception_handlers", {})
    return handlers.get(Exception) or handlers.get(500)


def _new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def _declared_too_large(value: bytes, limit: int) -> bool:
    try:
        return int(value) > limit
    except ValueError:
        return False


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge()
        return message

    return wrapped


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    # Unmatched paths are folded into one label so scanners cannot grow it.
    return path if isinstance(path, str) else "<non_routee>"


async def _send_error(
    send: Send, error: PayloadTooLarge, *, page_home: str | None = None
) -> None:
    if page_home is not None:
        # Before any route runs, so no template: a bare page, still in French.
        body = (
            '<!doctype html><html lang="fr"><meta charset="utf-8">'
            "<title>Fichier trop volumineux — Pixel Sceau</title>"
            f"<h1>Fichier trop volumineux</h1><p>{html.escape(error.message)}</p>"
            f'<p><a href="{html.escape(page_home)}">Retour</a></p></html>'
        ).encode()
        content_type = b"text/html; charset=utf-8"
    else:
        body = json.dumps(
            error.as_body(), ensure_ascii=False, separators=(",", ":")
        ).encode()
        content_type = b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
