"""``sceau deploy …``: configuration for running the service as many processes."""

from __future__ import annotations

from pathlib import Path

import click

from sceau.cli import main
from sceau.deploy.nginx import (
    NginxConfigError,
    NginxSite,
    Standalone,
    render_standalone,
    site_for_conf_d,
)
from sceau.settings import get_settings


@main.group()
def deploy() -> None:
    """The load balancer in front of several API processes."""


@deploy.command("nginx")
@click.option(
    "--upstream",
    "upstreams",
    multiple=True,
    required=True,
    metavar="HOST:PORT",
    help="An API process (`sceau serve --host ADDR --port PORT`); repeat for each.",
)
@click.option("--listen", default="0.0.0.0:80", show_default=True)
@click.option("--server-name", "server_names", multiple=True, default=["_"])
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1024),
    default=None,
    help="Default: SCEAU_MAX_BODY_BYTES, as the API processes read it.",
)
@click.option(
    "--read-timeout",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Seconds nginx waits for an answer (far above a signature's p95).",
)
@click.option(
    "--tls-certificate", type=click.Path(dir_okay=False, path_type=Path), default=None
)
@click.option(
    "--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None
)
@click.option(
    "--standalone",
    is_flag=True,
    help="A whole nginx.conf for a foreground nginx (`nginx -p DIR -c FILE`), "
    "every path under its prefix; else the part for /etc/nginx/conf.d/.",
)
@click.option(
    "--user",
    default=None,
    help="With --standalone: the `user` directive (only read when nginx starts "
    "as root).",
)
@click.option(
    "--access-log",
    default="/var/log/nginx/sceau.access.log",
    show_default=True,
    help="Without --standalone: where the access log goes.",
)
def deploy_nginx(
    upstreams: tuple[str, ...],
    listen: str,
    server_names: tuple[str, ...],
    max_body_bytes: int | None,
    read_timeout: int,
    tls_certificate: Path | None,
    tls_key: Path | None,
    standalone: bool,
    user: str | None,
    access_log: str,
) -> None:
    """Print an nginx configuration: one address for N API processes."""
    try:
        site = NginxSite(
            upstreams=list(upstreams),
            listen=listen,
            server_names=list(server_names),
            max_body_bytes=max_body_bytes or get_settings().max_body_bytes,
            read_timeout_seconds=read_timeout,
            tls_certificate=tls_certificate,
            tls_key=tls_key,
        )
        if standalone:
            text = render_standalone(site, Standalone(user=user))
        else:
            text = site_for_conf_d(site, access_log)
    except NginxConfigError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(text, nl=False)
