"""Sending one webhook: checked, pinned to the checked address, not redirected.

The URL is checked again (``ssrf.check_url``) on every attempt, and the
connection goes to the address that passed the check: the request is made to
that IP, with the ``Host`` header and the TLS server name (SNI, and so the
certificate check) of the URL's host. Redirects are never followed, proxies in
the environment are ignored, and the answer's body is not read.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import ssl
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from sceau import __version__
from sceau.webhooks.errors import CallbackUrlRefused
from sceau.webhooks.ssrf import Destination, Resolver, check_url, system_resolver

logger = logging.getLogger(__name__)

USER_AGENT = f"PixelSceau-Webhooks/{__version__}"
_CLIENT_CACHE_SIZE = 64


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int | None
    error: str | None
    duration_ms: int
    retry_after_seconds: float | None = None
    gone: bool = False


class WebhookSender:
    """Keeps one connection pool per (host, address, port), so that a
    connection made for one name is never reused for another."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        allow_http_loopback: bool = False,
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.timeout = httpx.Timeout(timeout_seconds)
        # The receivers' certificates are checked against the system's roots;
        # tests hand in a context that trusts their own CA.
        self.verify = verify
        self.allow_http_loopback = allow_http_loopback
        self.resolver = resolver
        self._clients: OrderedDict[tuple[str, str, str, int], httpx.Client] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        started = time.perf_counter()
        try:
            destination = check_url(
                url,
                allow_http_loopback=self.allow_http_loopback,
                resolver=self.resolver,
            )
        except CallbackUrlRefused as exc:
            return SendResult(False, None, exc.message, _ms(started))

        # The first checked address that answers; all of them passed the check.
        error = "aucune adresse"
        for address in destination.addresses:
            result = self._post(destination, address, body, headers, started)
            if result is not None:
                return result
            error = f"connexion impossible à {address}"
        return SendResult(False, None, error, _ms(started))

    def _post(
        self,
        destination: Destination,
        address: ipaddress.IPv4Address | ipaddress.IPv6Address,
        body: bytes,
        headers: dict[str, str],
        started: float,
    ) -> SendResult | None:
        client = self._client(destination, str(address))
        literal = f"[{address}]" if address.version == 6 else str(address)
        target = f"{destination.scheme}://{literal}:{destination.port}"
        target += destination.path
        extensions = {}
        if destination.scheme == "https" and not destination.is_ip_literal:
            extensions["sni_hostname"] = destination.host
        request_headers = {
            **headers,
            "Host": destination.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        try:
            with client.stream(
                "POST",
                target,
                content=body,
                headers=request_headers,
                extensions=extensions,
            ) as response:
                status = response.status_code
                retry_after = _retry_after(response.headers.get("retry-after"))
                location = response.headers.get("location")
        except httpx.ConnectError:
            return None
        except httpx.TimeoutException:
            return SendResult(False, None, "délai dépassé", _ms(started))
        except httpx.HTTPError as exc:
            return SendResult(
                False, None, f"erreur réseau : {type(exc).__name__}", _ms(started)
            )
        return _judge(status, retry_after, location, _ms(started))

    def _client(self, destination: Destination, address: str) -> httpx.Client:
        key = (destination.scheme, destination.host, address, destination.port)
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
            client = httpx.Client(
                timeout=self.timeout,
                follow_redirects=False,
                trust_env=False,
                verify=self.verify,
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
            )
            self._clients[key] = client
            while len(self._clients) > _CLIENT_CACHE_SIZE:
                _, old = self._clients.popitem(last=False)
                old.close()
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def _judge(
    status: int, retry_after: float | None, location: str | None, duration_ms: int
) -> SendResult:
    if 200 <= status < 300:
        return SendResult(True, status, None, duration_ms)
    if status == 410:
        return SendResult(False, status, "410 Gone", duration_ms, gone=True)
    if 300 <= status < 400:
        # Following would let the receiver send us anywhere, past the check.
        where = f" vers {location[:200]}" if location else ""
        return SendResult(
            False, status, f"redirection{where} non suivie", duration_ms, retry_after
        )
    return SendResult(False, status, f"réponse HTTP {status}", duration_ms, retry_after)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
