"""``sceau matrix …``: the operator reads a client's authority matrix and its
history, and publishes a version on the client's behalf (author
``operateur``). Attached to ``sceau`` by ``sceau.cli``."""

from __future__ import annotations

from datetime import date
from typing import IO, Any

import click

from sceau.audit.actors import Actor
from sceau.cli import _emit, _fail_on_errors, _runtime, json_option, main
from sceau.clients.service import get_client
from sceau.db import utcnow

CLIENT_OPTION = click.option("--client", "client_id", required=True)
_DOCUMENT_FIELDS = {"regles", "revue_le", "politique_revue"}


def _matrix_text(data: dict[str, Any]) -> str:
    late = ", REVIEW OVERDUE" if data["en_retard"] else ""
    lines = [
        f"version {data['version']}"
        + ("" if data["en_vigueur"] else " (superseded)")
        + f", review by {data['revue_le']} ({data['politique_revue']}{late}), "
        f"published {data['publiee_le']} by {data['auteur']}"
    ]
    for rule in data["regles"]:
        ceiling = rule["montant_max"] if rule["montant_max"] is not None else "-"
        lines.append(
            f"{rule['numero']}\t{rule['type_acte']}\t"
            f"[{rule['montant_min']}, {ceiling})\t{rule['mode']}\t"
            f"{rule['code_09'] or 'any'}"
        )
    return "\n".join(lines)


@main.group()
def matrix() -> None:
    """Clients' authority matrices: which mode and signer for which act."""


@matrix.command("show")
@CLIENT_OPTION
@click.option("--version", "number", type=int, default=None, help="Default: latest.")
@json_option
@_fail_on_errors
def matrix_show(client_id: str, number: int | None, as_json: bool) -> None:
    """Print the matrix in force (or an earlier version) and its rules."""
    from sceau.authority import service
    from sceau.authority.errors import MatrixNotFound
    from sceau.authority.schemas import MatrixView

    now = utcnow()
    with _runtime() as runtime, runtime.db.sessions() as session:
        get_client(session, client_id)
        latest = service.current(session, client_id, now)
        if latest is None:
            raise MatrixNotFound()
        shown = (
            latest
            if number is None
            else service.version(session, client_id, number, now)
        )
    in_force = shown.version == latest.version
    data = MatrixView.of(shown, in_force=in_force).model_dump(mode="json")
    _emit(as_json, data, lambda: _matrix_text(data))


@matrix.command("set")
@CLIENT_OPTION
@click.option(
    "--file",
    "handle",
    type=click.File("r", encoding="utf-8"),
    required=True,
    help='JSON: {"regles": [...], "revue_le": "YYYY-MM-DD", "politique_revue": '
    '"avertir"}, as the API takes it; - for stdin.',
)
@json_option
@_fail_on_errors
def matrix_set(client_id: str, handle: IO[str], as_json: bool) -> None:
    """Publish the file's matrix as the client's next version."""
    from sceau.authority import service
    from sceau.authority.schemas import MatrixView
    from sceau.catalogue.cli import read_json_file

    document = read_json_file(handle)
    if not isinstance(document, dict) or not {"regles", "revue_le"} <= set(document):
        raise click.ClickException(
            f'{handle.name}: expected {{"regles": [...], "revue_le": …}}.'
        )
    unknown = set(document) - _DOCUMENT_FIELDS
    if unknown:
        raise click.ClickException(
            f"{handle.name}: unknown field {sorted(unknown)[0]!r}; expected "
            f"{', '.join(sorted(_DOCUMENT_FIELDS))}."
        )
    try:
        review_due = date.fromisoformat(str(document["revue_le"]))
    except ValueError as exc:
        raise click.ClickException(
            f"{handle.name}: revue_le must be a date, YYYY-MM-DD."
        ) from exc

    with _runtime() as runtime, runtime.db.transaction() as session:
        get_client(session, client_id)
        published = service.publish(
            session,
            client_id,
            rules=document["regles"],
            review_due=review_due,
            overdue_policy=str(document.get("politique_revue", "avertir")),
            author="operateur",
            now=utcnow(),
            by=Actor.operator(),
        )
    data = MatrixView.of(published, in_force=True).model_dump(mode="json")
    _emit(as_json, data, lambda: _matrix_text(data))


@matrix.command("history")
@CLIENT_OPTION
@json_option
@_fail_on_errors
def matrix_history(client_id: str, as_json: bool) -> None:
    """List the client's matrix versions, newest first."""
    from sceau.authority import service
    from sceau.authority.schemas import VersionSummary

    with _runtime() as runtime, runtime.db.sessions() as session:
        get_client(session, client_id)
        found = service.versions(session, client_id, utcnow())
    rows = [
        VersionSummary.of(matrix, in_force=index == 0).model_dump(mode="json")
        for index, matrix in enumerate(found)
    ]
    _emit(
        as_json,
        rows,
        lambda: (
            "\n".join(
                f"{r['version']}\t{r['publiee_le']}\t{r['auteur']}\t"
                f"{r['nombre_regles']} rules\treview by {r['revue_le']}"
                + ("\tin force" if r["en_vigueur"] else "")
                for r in rows
            )
            or "(no matrix)"
        ),
    )
