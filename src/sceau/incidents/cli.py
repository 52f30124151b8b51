"""``sceau incident …``: declare, update, close and list incidents."""

from __future__ import annotations

import click

from sceau.audit.actors import Actor
from sceau.cli import _emit, _fail_on_errors, _runtime, json_option


@click.group()
def incident() -> None:
    """Service incidents and the notices sent to affected clients."""


def _text(data: dict[str, object]) -> str:
    delay = data["delai_max_s"]
    return (
        f"{data['id']}\t{data['etat']}\t{data['titre']}\t"
        f"notices {data['avis_livres']}/{data['avis']}"
        + (f", slowest {delay} s" if delay is not None else "")
    )


@incident.command("open")
@click.option("--title", required=True)
@click.option("--impact", required=True, help="What clients see, in French.")
@click.option(
    "--clients",
    default=None,
    help="Comma-separated client ids (default: every client).",
)
@json_option
@_fail_on_errors
def incident_open(title: str, impact: str, clients: str | None, as_json: bool) -> None:
    """Declare an incident: every affected client is told at once."""
    from sceau.incidents.service import incident_json, open_incident

    ids = None if clients is None else [c.strip() for c in clients.split(",") if c]
    with _runtime() as runtime, runtime.db.transaction() as session:
        made = open_incident(
            session, title=title, impact=impact, client_ids=ids, by=Actor.operator()
        )
        data = incident_json(session, made)
    _emit(as_json, data, lambda: str(data["id"]))


@incident.command("update")
@click.argument("incident_id")
@click.option("--message", required=True)
@click.option("--impact", default=None)
@json_option
@_fail_on_errors
def incident_update(
    incident_id: str, message: str, impact: str | None, as_json: bool
) -> None:
    """Tell affected clients how an open incident stands."""
    from sceau.incidents.service import incident_json, update_incident

    with _runtime() as runtime, runtime.db.transaction() as session:
        found = update_incident(
            session, incident_id, message=message, impact=impact, by=Actor.operator()
        )
        data = incident_json(session, found)
    _emit(as_json, data, lambda: _text(data))


@incident.command("close")
@click.argument("incident_id")
@click.option("--message", default=None)
@json_option
@_fail_on_errors
def incident_close(incident_id: str, message: str | None, as_json: bool) -> None:
    """Close an incident and tell affected clients."""
    from sceau.incidents.service import close_incident, incident_json

    with _runtime() as runtime, runtime.db.transaction() as session:
        found = close_incident(
            session, incident_id, message=message, by=Actor.operator()
        )
        data = incident_json(session, found)
    _emit(as_json, data, lambda: _text(data))


@incident.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only open incidents.")
@json_option
def incident_list(open_only: bool, as_json: bool) -> None:
    """Incidents, newest first, with how their notices were delivered."""
    from sceau.incidents.service import incident_json, list_incidents

    with _runtime() as runtime, runtime.db.sessions() as session:
        rows = [
            incident_json(session, i)
            for i in list_incidents(session, open_only=open_only)
        ]
    _emit(as_json, rows, lambda: "\n".join(_text(r) for r in rows))
