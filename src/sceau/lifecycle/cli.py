"""``sceau client state …``: the operator reads and advances a client's
integration. Attached to ``sceau client`` by ``sceau.cli``."""

from __future__ import annotations

from typing import Any

import click

from sceau.audit.actors import Actor
from sceau.cli import _emit, _fail_on_errors, _runtime, client, json_option
from sceau.clients.service import get_client
from sceau.lifecycle.agreement import agreement_of, differences
from sceau.lifecycle.models import STATES, ClientStateChange
from sceau.modes.names import MODES


def change_data(change: ClientStateChange) -> dict[str, Any]:
    return {
        "de": change.from_state,
        "vers": change.to_state,
        "par": change.actor,
        "le": change.at.isoformat(),
        "note": change.note,
    }


@client.group("state")
def state() -> None:
    """A client's integration step: cadrage → convention → provisionne →
    pilote → production."""


@state.command("show")
@click.argument("client_id")
@json_option
@_fail_on_errors
def state_show(client_id: str, as_json: bool) -> None:
    """The client's step, its agreement, and every step it took."""
    from sceau.lifecycle.service import history
    from sceau.notifications.service import get_contact

    with _runtime() as runtime, runtime.db.sessions() as session:
        found = get_client(session, client_id)
        channel = get_contact(session, client_id).incident_channel
        data: dict[str, Any] = {
            "client": found.id,
            "etape": found.state,
            "convention": agreement_of(found),
            "ecarts": differences(found, channel),
            "historique": [change_data(c) for c in history(session, client_id)],
        }

    def text() -> str:
        lines = [f"{data['client']}\t{data['etape']}"]
        lines += [
            f"  {c['le']}\t{c['de'] or '-'} → {c['vers']}\t{c['par']}"
            + (f"\t{c['note']}" if c["note"] else "")
            for c in data["historique"]
        ]
        lines += [f"  écart : {gap}" for gap in data["ecarts"]]
        return "\n".join(lines)

    _emit(as_json, data, text)


@state.command("set")
@click.argument("client_id")
@click.argument("to_state", type=click.Choice(STATES))
@click.option("--actor", required=True, help="Who decides (recorded).")
@click.option("--note", default=None, help="Shown to the client too.")
@click.option(
    "--modes", default=None, help=f"Convention: comma-separated, of {', '.join(MODES)}."
)
@click.option("--level", default=None, help="Convention: A, B or C.")
@click.option("--matrix/--no-matrix", default=False, help="Convention.")
@click.option("--plan", default=None, help="Convention: the agreed plan.")
@click.option("--channel", default=None, help="Convention: webhook, email or both.")
@click.option("--pilot-cap", type=int, default=None, help="Convention: daily cap.")
@json_option
@_fail_on_errors
def state_set(
    client_id: str,
    to_state: str,
    actor: str,
    note: str | None,
    modes: str | None,
    level: str | None,
    matrix: bool,
    plan: str | None,
    channel: str | None,
    pilot_cap: int | None,
    as_json: bool,
) -> None:
    """Advance the client one step; into convention, with its parameters."""
    from sceau.lifecycle.service import transition

    agreement = None
    if to_state == "convention":
        agreement = {
            "modes": [m.strip() for m in (modes or "").split(",") if m.strip()],
            "niveau": level,
            "matrice_autorite": matrix,
            "formule": plan,
            "canal": channel,
            "plafond_pilote": pilot_cap,
        }
    with _runtime() as runtime, runtime.db.transaction() as session:
        change = transition(
            session,
            client_id,
            to_state,
            actor=f"operateur:{actor}",
            settings=runtime.settings,
            note=note,
            agreement=agreement,
            by=Actor.operator(),
        )
        data = change_data(change)
    _emit(as_json, data, lambda: f"{client_id}\t{data['de']} → {data['vers']}")
