"""Request ids, the body-size limit, the security headers, request logs, HTTP
metrics and the SLA's request counts, as one pure ASGI middleware (no body
buffering but for the framework's small documentation pages, no per-request
task)."""

from __future__ import annotations

import html
import json
import logging
import re
import secrets
import time
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sceau.auth.front import peer_of
from sceau.errors import PayloadTooLarge
from sceau.ops.logs import mask_ip, request_id_var
from sceau.ops.metrics import HTTP_LATENCY, HTTP_REQUESTS
from sceau.ops.security_headers import headers_for, is_html, policy_allowing_inline
from sceau.sla.recorder import record_request

logger = logging.getLogger(__name__)

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
CSP = b"content-security-policy"


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
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.front_token = front_token
        # Paths of pages for people, whose refusals must be pages, not JSON.
        self.page_prefixes = page_prefixes

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

        page = self._page_home(str(scope.get("path", ""))) is not None
        over_tls = scope.get("scheme") == "https" or peer.via_front
        # The start of an HTML answer drawn by the framework, held until its
        # body is known: its policy allows its inline blocks by hash.
        held: list[Message] = []

        async def send_with_id(message: Message) -> None:
            nonlocal started_answer
            if message["type"] == "http.response.start":
                started_answer = True
                status_holder["status"] = message["status"]
                given = list(message.get("headers", []))
                present = {name.lower() for name, _ in given}
                html = is_html(_header(given, b"content-type"))
                added = headers_for(
                    page=page, html=html, over_tls=over_tls, present=present
                )
                hold = html and not page and CSP not in present
                if hold:
                    added = [(name, value) for name, value in added if name != CSP]
                message["headers"] = [
                    *given,
                    *added,
                    (b"x-request-id", request_id.encode()),
                ]
                if hold:
                    held.append(message)
                    return
            elif held:
                held.append(message)
                if message.get("more_body", False):
                    return
                await _send_with_inline_policy(send, held)
                held.clear()
                return
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
    response it sent with a status of 500 or more, or an exception that the
    error handler, outside this middleware, answers with a 500. A request
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


async def _send_with_inline_policy(send: Send, held: list[Message]) -> None:
    start, *bodies = held
    body = b"".join(message.get("body", b"") for message in bodies)
    policy = policy_allowing_inline(body)
    start["headers"] = [
        *start["headers"],
        (CSP, policy.encode()),
    ]
    await send(start)
    await send({"type": "http.response.body", "body": body})


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
