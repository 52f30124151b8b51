"""``sceau catalogue …``: the operator reads and replaces a client's catalogue
of act kinds. Attached to ``sceau`` by ``sceau.cli``."""

from __future__ import annotations

import json
from typing import IO, Any

import click

from sceau.cli import _emit, _fail_on_errors, _runtime, json_option, main
from sceau.clients.service import get_client
from sceau.db import utcnow

CLIENT_OPTION = click.option("--client", "client_id", required=True)


def read_json_file(handle: IO[str]) -> Any:
    """The JSON document of ``--file`` (``-`` reads standard input)."""
    try:
        return json.load(handle)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{handle.name}: not valid JSON ({exc})") from exc


def _catalogue_data(client_id: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "client": client_id,
        "types_acte": [
            {"code": code, "libelle": label} for code, label in labels.items()
        ],
    }


def _catalogue_text(data: dict[str, Any]) -> str:
    rows = [f"{kind['code']}\t{kind['libelle']}" for kind in data["types_acte"]]
    return "\n".join(rows) or "(empty catalogue)"


@main.group()
def catalogue() -> None:
    """A client's catalogue of act kinds (type_acte)."""


@catalogue.command("show")
@CLIENT_OPTION
@json_option
@_fail_on_errors
def catalogue_show(client_id: str, as_json: bool) -> None:
    """Print the client's act kinds, by code."""
    from sceau.catalogue.service import labels

    with _runtime() as runtime, runtime.db.sessions() as session:
        get_client(session, client_id)
        data = _catalogue_data(client_id, labels(session, client_id))
    _emit(as_json, data, lambda: _catalogue_text(data))


@catalogue.command("set")
@CLIENT_OPTION
@click.option(
    "--file",
    "handle",
    type=click.File("r", encoding="utf-8"),
    required=True,
    help='JSON: {"types_acte": [{"code": …, "libelle": …}, …]}; - for stdin.',
)
@json_option
@_fail_on_errors
def catalogue_set(client_id: str, handle: IO[str], as_json: bool) -> None:
    """Replace the client's whole catalogue with the file's."""
    from sceau.catalogue.service import parse_entries, replace_catalogue

    document = read_json_file(handle)
    if not isinstance(document, dict) or set(document) != {"types_acte"}:
        raise click.ClickException(
            f'{handle.name}: expected {{"types_acte": [...]}}, as the API takes it.'
        )
    entries = parse_entries(document["types_acte"])
    with _runtime() as runtime, runtime.db.transaction() as session:
        get_client(session, client_id)
        replaced = replace_catalogue(session, client_id, entries, utcnow())
        data = _catalogue_data(client_id, replaced)
    _emit(as_json, data, lambda: _catalogue_text(data))
