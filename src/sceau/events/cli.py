"""``sceau worker``: a delivery worker in the foreground, for scale."""

from __future__ import annotations

import click

from sceau.cli import _emit, _runtime, json_option
from sceau.ops.processes import block_stop_signals, wait_for_stop_signal


@click.command("worker")
@click.option(
    "--once",
    is_flag=True,
    help="Run the chores (acts expired, reminders) and deliver what is due now, "
    "then exit.",
)
@click.option(
    "--poll",
    "poll_seconds",
    type=click.FloatRange(min=0.05),
    default=None,
    help="Seconds between looks when idle (default: SCEAU_WORKER_POLL_SECONDS).",
)
@json_option
def worker(once: bool, poll_seconds: float | None, as_json: bool) -> None:
    """Deliver webhooks and e-mails from the outbox until stopped.

    Run as many as needed beside `sceau serve` (which has its own unless
    SCEAU_WORKER_IN_SERVE=false): they share the work through leases. Each
    loop also expires overdue acts and sends their reminders.
    SIGTERM or Ctrl-C finishes the attempt in flight, then stops.
    """
    from sceau.events.worker import BackgroundWorker, DeliveryWorker, standard_chores
    from sceau.ops.logs import configure_logging

    with _runtime() as runtime:
        settings = runtime.settings
        configure_logging(settings.log_format, settings.log_level)
        delivery_worker = DeliveryWorker.for_runtime(runtime)
        if once:
            for chore in standard_chores(runtime.db, settings):
                chore.run()
            made = 0
            while True:
                step = delivery_worker.run_once()
                made += step
                if step == 0:
                    break
            delivery_worker.close()
            _emit(as_json, {"tentatives": made}, lambda: f"{made} attempts made")
            return

        loop = BackgroundWorker(
            delivery_worker, poll_seconds or settings.worker_poll_seconds
        )
        block_stop_signals()
        loop.start()
        wait_for_stop_signal()
        loop.stop()
