"""``sceau tls …``: the mutual-TLS front's files and its CRL."""

from __future__ import annotations

from pathlib import Path

import click

from sceau.cli import _emit, _fail_on_errors, _runtime, json_option, main, pki
from sceau.tls.front import FrontFiles, push_crl, write_crl, write_front_files
from sceau.tls.serve import front_directory, parse_listen


@pki.command("export-access-ca")
def pki_export_access_ca() -> None:
    """Print the access CA certificate (PEM): what level-C clients trust."""
    with _runtime() as runtime:
        click.echo(runtime.access_ca.certificate_pem.decode(), nl=False)


@main.group()
def tls() -> None:
    """The HAProxy mutual-TLS front for level-C clients."""


@tls.command("front-config")
@click.option("--listen", default="0.0.0.0:8443", show_default=True)
@click.option(
    "--server-name",
    "server_names",
    multiple=True,
    default=["localhost", "127.0.0.1"],
    show_default=True,
    help="Names for the development server certificate (repeatable).",
)
@click.option(
    "--server-pem",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Your server certificate, chain and key in one PEM (else a development one).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the files (default: DATA_DIR/front).",
)
@json_option
@_fail_on_errors
def tls_front_config(
    listen: str,
    server_names: tuple[str, ...],
    server_pem: Path | None,
    directory: Path | None,
    as_json: bool,
) -> None:
    """Write haproxy.cfg, the access CA, its CRL and the server certificate."""
    host, port = parse_listen(listen)
    with _runtime() as runtime:
        files = write_front_files(
            runtime,
            directory or front_directory(runtime.settings),
            host=host,
            port=port,
            server_names=list(server_names),
            server_pem=server_pem,
        )
    data = {
        "configuration": str(files.config),
        "socket_application": str(files.app_socket),
    }
    _emit(as_json, data, lambda: str(files.config))


@tls.command("write-crl")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The front's directory (default: DATA_DIR/front).",
)
@json_option
@_fail_on_errors
def tls_write_crl(directory: Path | None, as_json: bool) -> None:
    """Rewrite the front's CRL and hand it to the running front."""
    with _runtime() as runtime:
        files = FrontFiles(directory or front_directory(runtime.settings))
        if not files.directory.exists():
            raise ValueError(f"no front directory at {files.directory}")
        pem = write_crl(runtime, files)
    pushed = push_crl(files, pem)
    data = {"lcr": str(files.crl), "front_mis_a_jour": pushed}
    _emit(
        as_json,
        data,
        lambda: (
            f"{files.crl} written"
            + ("; the running front has it" if pushed else "; no front running")
        ),
    )
