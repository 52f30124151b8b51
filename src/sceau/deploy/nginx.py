"""The nginx configuration in front of N API processes (``sceau deploy nginx``).

What the application expects of the balancer, and why each line is there:

- ``Host`` as the client sent it (``$http_host``; ``$host`` only when the
  client sent none): level B's request signature covers the host with its
  port, and ``$host`` drops the port; ``proxy_pass`` without a URI part
  passes the path as the client sent it (the MAC covers it too).
- ``X-Forwarded-For $remote_addr``, set rather than appended: nginx is the
  edge, so a client's own ``X-Forwarded-For`` is dropped. uvicorn believes
  the header only from the addresses in ``FORWARDED_ALLOW_IPS`` (by default
  127.0.0.1), and the rate limits and the logs then see the real client.
- ``X-Forwarded-Proto $scheme``: the application knows it is served over
  TLS (HSTS, secure cookies).
- ``X-Request-Id``: the client's when it sent a usable one, else nginx's, so
  that the balancer's log line and the application's share one id.
- the mutual-TLS front's headers are emptied: the application ignores them
  from TCP anyway; nothing that looks like them travels further.
- keep-alive to the upstream, idle connections closed by nginx before uvicorn's
  own five seconds, so that nginx never sends a request on a connection the
  application is closing (a POST would then fail with 502, never retried).
- ``least_conn``: a signature costs CPU, so the process with the fewest
  requests in flight gets the next one. ``proxy_next_upstream error``: a
  request goes to another process when the connection to one fails; never
  on a timeout (the process may still be working on it), and a POST or PATCH
  that reached a process is never sent again (no ``non_idempotent``). nginx
  may still send a GET, HEAD, PUT or DELETE again when the process closed
  the connection after receiving it, before answering: docs/deployment.md
  says what that means for each.
- response buffers large enough for a signed PDF in JSON, so that nginx
  does not spill an ordinary answer to a temporary file.
- the body limit is the application's, and nginx answers a larger body with
  the application's own JSON error, in French.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from sceau.errors import PayloadTooLarge

# uvicorn closes an idle keep-alive connection after 5 s (its default).
UPSTREAM_KEEPALIVE_SECONDS = 4
# 16 × 16 KiB in memory per request: a signed PDF of a few pages, in base64
# inside JSON, without a temporary file.
PROXY_BUFFERS = 16
PROXY_BUFFER = "16k"
_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]:\d{1,5}|[A-Za-z0-9.-]+:\d{1,5})$")
_NAME = re.compile(r"^[A-Za-z0-9._*~^$\\-]+$")
# What would end or split an nginx directive's argument.
_UNSAFE = re.compile(r"[\s;{}'\"\\#]")


class NginxConfigError(ValueError):
    """An option the configuration cannot be made from."""


@dataclass(frozen=True)
class NginxSite:
    upstreams: list[str]
    listen: str = "0.0.0.0:80"
    server_names: list[str] = field(default_factory=lambda: ["_"])
    max_body_bytes: int = 40 * 1024 * 1024
    # Far above a signature's p95 (tens of milliseconds for one page, a few
    # seconds for the largest PDF at B-LTA with an external TSA).
    read_timeout_seconds: int = 60
    connect_timeout_seconds: int = 5
    keepalive_connections: int = 32
    tls_certificate: Path | None = None
    tls_key: Path | None = None

    def __post_init__(self) -> None:
        if not self.upstreams:
            raise NginxConfigError("give at least one --upstream HOST:PORT")
        for address in [*self.upstreams, self.listen]:
            if address.startswith("unix:"):
                # The rate limits count per client address, and over a Unix
                # socket uvicorn sees none.
                raise NginxConfigError(
                    f"{address!r}: `sceau serve` listens on TCP only; give HOST:PORT"
                )
            if not _ADDRESS.match(address):
                raise NginxConfigError(f"{address!r} is not HOST:PORT or [IPv6]:PORT")
        for name in self.server_names:
            if not _NAME.match(name):
                raise NginxConfigError(f"{name!r} is not a server name")
        if (self.tls_certificate is None) != (self.tls_key is None):
            raise NginxConfigError("--tls-certificate and --tls-key go together")
        for path in (self.tls_certificate, self.tls_key):
            if path is not None:
                check_word(str(path), "a path")


@dataclass(frozen=True)
class Standalone:
    """What makes the site a whole ``nginx.conf`` for a foreground nginx run
    by an unprivileged user: every path under the prefix (``nginx -p``)."""

    error_log: str = "logs/error.log"
    access_log: str = "logs/access.log"
    pid: str = "logs/nginx.pid"
    worker_processes: int = 1
    # Only meaningful when nginx starts as root; left out otherwise.
    user: str | None = None

    def __post_init__(self) -> None:
        for path in (self.error_log, self.access_log, self.pid):
            check_word(path, "a path")
        if self.user is not None:
            check_word(self.user, "a user name")


def check_word(value: str, what: str) -> str:
    """``value`` as one argument of an nginx directive: nothing in it may end
    the directive, open a block or a comment, or split it."""
    if not value or _UNSAFE.search(value):
        raise NginxConfigError(
            f"{value!r} cannot be {what} in an nginx configuration "
            "(no space, quote, backslash, ';', '{', '}' or '#')"
        )
    return value


def render_site(site: NginxSite) -> str:
    """The ``http``-context part: for ``/etc/nginx/conf.d/``."""
    lines = [
        "# Pixel Sceau: the API processes behind one address.",
        "# Generated by `sceau deploy nginx`; see docs/deployment.md.",
        "",
        "upstream sceau_api {",
        "    least_conn;",
    ]
    lines += [
        f"    server {address} max_fails=3 fail_timeout=10s;"
        for address in site.upstreams
    ]
    lines += [
        f"    keepalive {site.keepalive_connections};",
        f"    keepalive_timeout {UPSTREAM_KEEPALIVE_SECONDS}s;",
        "    keepalive_requests 10000;",
        "}",
        "",
        "# The client's request id when it is one the service accepts.",
        "map $http_x_request_id $sceau_request_id {",
        '    "~^[A-Za-z0-9._:-]{8,64}$" $http_x_request_id;',
        "    default $request_id;",
        "}",
        "",
        "# The Host header as the client sent it (with its port), or the",
        "# server's name when it sent none (HTTP/1.0).",
        "map $http_host $sceau_host {",
        '    "" $host;',
        "    default $http_host;",
        "}",
        "",
        "# Client addresses are logged as their network, never in full: /24,",
        "# or /48 in IPv6 (written compressed: its first three groups, any",
        "# of them elided by '::').",
        "map $remote_addr $sceau_client_net {",
        '    "~^(?<v4>\\d+\\.\\d+\\.\\d+)\\.\\d+$" $v4.0/24;',
        '    "~^(?<g3>[0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}):" $g3::/48;',
        '    "~^(?<g2>[0-9a-f]{1,4}:[0-9a-f]{1,4})::" $g2::/48;',
        '    "~^(?<g1>[0-9a-f]{1,4})::" $g1::/48;',
        '    "~^::" ::/48;',
        "    default -;",
        "}",
        "",
        "log_format sceau '$time_iso8601 $sceau_request_id $sceau_client_net '",
        "                 '\"$request_method $uri\" $status $body_bytes_sent '",
        "                 'rt=$request_time upstream=$upstream_addr '",
        "                 'ut=$upstream_response_time';",
        "",
        "server {",
        *_listen_lines(site),
        f"    server_name {' '.join(site.server_names)};",
        "    server_tokens off;",
        "    access_log ACCESS_LOG sceau;",
        "",
        "    # SCEAU_MAX_BODY_BYTES: a larger body gets the service's own answer.",
        f"    client_max_body_size {site.max_body_bytes};",
        "    client_body_buffer_size 1m;",
        "    error_page 413 = @sceau_too_large;",
        "",
        "    location / {",
        "        proxy_pass http://sceau_api;",
        "        proxy_http_version 1.1;",
        '        proxy_set_header Connection "";',
        "        proxy_set_header Host $sceau_host;",
        "        proxy_set_header X-Forwarded-For $remote_addr;",
        "        proxy_set_header X-Forwarded-Proto $scheme;",
        "        proxy_set_header X-Request-Id $sceau_request_id;",
        '        proxy_set_header X-Pixel-Front-Peer "";',
        '        proxy_set_header X-Pixel-Front-Verify "";',
        '        proxy_set_header X-Pixel-Front-Cert "";',
        '        proxy_set_header X-Pixel-Front-Token "";',
        f"        proxy_connect_timeout {site.connect_timeout_seconds}s;",
        f"        proxy_send_timeout {site.read_timeout_seconds}s;",
        f"        proxy_read_timeout {site.read_timeout_seconds}s;",
        f"        proxy_buffer_size {PROXY_BUFFER};",
        f"        proxy_buffers {PROXY_BUFFERS} {PROXY_BUFFER};",
        "        proxy_next_upstream error;",
        f"        proxy_next_upstream_tries {len(site.upstreams)};",
        "    }",
        "",
        "    location @sceau_too_large {",
        "        default_type application/json;",
        "        add_header X-Request-Id $sceau_request_id always;",
        "        return 413 '" + _too_large_body(site.max_body_bytes) + "';",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def render_standalone(site: NginxSite, standalone: Standalone) -> str:
    """A whole ``nginx.conf``: ``nginx -p PREFIX -c nginx.conf -e ERROR_LOG``."""
    head = [
        "# Pixel Sceau: nginx in the foreground, every path under its prefix.",
        *([f"user {standalone.user};"] if standalone.user else []),
        "daemon off;",
        f"worker_processes {standalone.worker_processes};",
        f"pid {standalone.pid};",
        f"error_log {standalone.error_log} warn;",
        "",
        "events {",
        "    worker_connections 1024;",
        "}",
        "",
        "http {",
        "    client_body_temp_path temp/body;",
        "    proxy_temp_path temp/proxy;",
        "    fastcgi_temp_path temp/fastcgi;",
        "    uwsgi_temp_path temp/uwsgi;",
        "    scgi_temp_path temp/scgi;",
        "",
    ]
    body = render_site(site).replace("ACCESS_LOG", standalone.access_log)
    indented = ["    " + line if line else "" for line in body.splitlines()]
    return "\n".join([*head, *indented, "}"]) + "\n"


def site_for_conf_d(site: NginxSite, access_log: str) -> str:
    return render_site(site).replace("ACCESS_LOG", check_word(access_log, "a path"))


def _listen_lines(site: NginxSite) -> list[str]:
    if site.tls_certificate is None:
        return [f"    listen {site.listen};"]
    return [
        f"    listen {site.listen} ssl;",
        f"    ssl_certificate {site.tls_certificate};",
        f"    ssl_certificate_key {site.tls_key};",
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_session_cache shared:sceau_tls:10m;",
    ]


def _too_large_body(limit: int) -> str:
    # The application's own refusal (sceau.ops.middleware), word for word.
    error = PayloadTooLarge(
        f"Le corps de la requête dépasse la taille autorisée ({limit} octets)."
    )
    text = json.dumps(error.as_body(), ensure_ascii=False, separators=(",", ":"))
    # Inside nginx's single quotes: no quote or variable to escape.
    assert "'" not in text and "$" not in text
    return text
