"""``sceau sla show``: a client's SLA indicators for a month. Attached to
``sceau`` by ``sceau.cli``."""

from __future__ import annotations

from typing import Any

import click

from sceau.cli import _emit, _fail_on_errors, _runtime, json_option, main
from sceau.db import utcnow


@main.group()
def sla() -> None:
    """SLA indicators measured per client and UTC month."""


@sla.command("show")
@click.argument("client_id")
@click.option("--month", default=None, help="YYYY-MM, UTC (default: this month).")
@json_option
@_fail_on_errors
def sla_show(client_id: str, month: str | None, as_json: bool) -> None:
    """Print the client's indicators beside the targets of the plan in force
    that month."""
    from sceau.billing.service import plan_for_month
    from sceau.sla.service import indicator_json, indicators, month_of, month_window

    month = month or month_of(utcnow())
    month_window(month)
    with _runtime() as runtime, runtime.db.sessions() as session:
        plan = plan_for_month(session, client_id, month)
        shown = indicators(session, runtime.settings, client_id, month)
    data = {
        "client": client_id,
        "mois": month,
        "formule": plan,
        "indicateurs": [indicator_json(indicator) for indicator in shown],
    }
    _emit(as_json, data, lambda: _table(data))


def _table(data: dict[str, Any]) -> str:
    lines = [f"{data['client']}\t{data['mois']}\t{data['formule']}"]
    for row in data["indicateurs"]:
        value = "-" if row["valeur"] is None else f"{row['valeur']:g} {row['unite']}"
        target = "-" if row["objectif"] is None else f"{row['objectif']:g}"
        verdict = {True: "met", False: "MISSED", None: "-"}[row["respecte"]]
        lines.append(f"{row['indicateur']}\t{value}\ttarget {target}\t{verdict}")
    return "\n".join(lines)
