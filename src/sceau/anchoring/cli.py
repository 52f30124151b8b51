"""``sceau anchoring …``: the operator's view of anchoring, and a worker."""

from __future__ import annotations

import click

from sceau.cli import _emit, _runtime, json_option, main
from sceau.ops.processes import block_stop_signals, wait_for_stop_signal


@main.group()
def anchoring() -> None:
    """Anchoring in Bitcoin through OpenTimestamps."""


@anchoring.command("status")
@json_option
def anchoring_status_command(as_json: bool) -> None:
    """Queue length, last submission, pending and confirmed, calendar health."""
    from sceau.anchoring.service import anchoring_status

    with _runtime() as runtime, runtime.db.sessions() as session:
        data = anchoring_status(session)

    def text() -> str:
        lines = [
            f"queued (no batch yet)  {data['file_attente']}",
            f"batches not submitted  {data['lots_non_soumis']}",
            f"last submission        {data['derniere_soumission'] or 'never'}",
            f"pending / submitted / confirmed  "
            f"{data['en_attente']} / {data['soumis']} / {data['confirmes']}",
        ]
        for url, health in data["calendriers"].items():
            lines.append(
                f"calendar {url}: {health['accepte']} accepted, "
                f"{health['en_echec']} failing"
                + (f" ({health['erreur']})" if health["erreur"] else "")
            )
        return "\n".join(lines)

    _emit(as_json, data, text)


@anchoring.command("run")
@click.option("--once", is_flag=True, help="One pass of every step, then exit.")
@json_option
def anchoring_run(once: bool, as_json: bool) -> None:
    """Gather, submit and upgrade until stopped (beside or instead of the
    worker inside `sceau serve`; several can run at once)."""
    from sceau.anchoring.worker import AnchoringLoop, anchoring_worker_for
    from sceau.ops.logs import configure_logging

    with _runtime() as runtime:
        settings = runtime.settings
        configure_logging(settings.log_format, settings.log_level)
        worker = anchoring_worker_for(runtime.db, settings)
        if once:
            moved = worker.run_once()
            _emit(as_json, {"mouvements": moved}, lambda: f"{moved} steps done")
            return
        loop = AnchoringLoop(worker, settings.anchor_interval_seconds)
        block_stop_signals()
        loop.start()
        wait_for_stop_signal()
        loop.stop()
