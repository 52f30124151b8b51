"""``sceau delegation …``: the operator reads a client's delegations, as the
client's API shows them. Drafting is the client's (API), signing and
revoking the person's (web signer). Attached to ``sceau`` by ``sceau.cli``."""

from __future__ import annotations

from typing import Any

import click

from sceau.cli import _emit, _fail_on_errors, _runtime, json_option, main
from sceau.clients.service import get_client


@main.group()
def delegation() -> None:
    """Delegations of company officers to their client's system."""


@delegation.command("list")
@click.option("--client", "client_id", required=True)
@click.option("--status", default=None, help="a_signer, active, revoquee…")
@json_option
@_fail_on_errors
def delegation_list(client_id: str, status: str | None, as_json: bool) -> None:
    """The client's delegations, newest first, with their effective status."""
    from sceau.delegations.schemas import DelegationView
    from sceau.delegations.service import list_delegations

    with _runtime() as runtime, runtime.db.sessions() as session:
        get_client(session, client_id)
        views = [
            DelegationView.of(state).as_json()
            for state in list_delegations(session, client_id, status=status)
        ]
    _emit(as_json, views, lambda: _table(views))


@delegation.command("show")
@click.option("--client", "client_id", required=True)
@click.argument("ref")
@json_option
@_fail_on_errors
def delegation_show(client_id: str, ref: str, as_json: bool) -> None:
    """One delegation: its state and its envelope in words."""
    from sceau.delegations.schemas import DelegationView
    from sceau.delegations.service import get_delegation

    with _runtime() as runtime, runtime.db.sessions() as session:
        view = DelegationView.of(get_delegation(session, client_id, ref)).as_json()
    _emit(as_json, view, lambda: _details(view))


def _table(views: list[dict[str, Any]]) -> str:
    rows = [
        f"{view['ref_delegation']}\t{view['statut']}\t{view['code_09']}\t"
        f"{view['nom_delegant']}"
        for view in views
    ]
    return "\n".join(rows) or "(no delegation)"


def _details(view: dict[str, Any]) -> str:
    lines = [
        f"{view['ref_delegation']} ({view['statut']})",
        f"delegator: {view['nom_delegant']} {view['code_09']}",
        f"signature: {view['ref_signature'] or '-'}",
        *view["description"],
    ]
    return "\n".join(lines)
