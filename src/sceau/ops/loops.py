"""What the service's background loops do when a step fails: log it, wait
longer each time, and carry on."""

from __future__ import annotations

import logging

from sceau.db import storage_failure, storage_reason

# While the database is away, a loop waits longer after each failed step, up
# to this, so that an outage of minutes is not thousands of traces.
LONGEST_BACKOFF_SECONDS = 30.0


def step_failed(log: logging.Logger, loop: str, exc: Exception, failures: int) -> float:
    """Log a loop's failed step and say how long to wait before the next: the
    first failure with its trace, the next ones as one line each; a failure
    of the storage under the service is not a bug, and says so."""
    failure = storage_failure(exc)
    extra = {
        "failures": failures,
        "code": failure.code if failure is not None else "erreur_interne",
        "reason": storage_reason(exc),
    }
    if failures == 1 and failure is None:
        log.exception(f"{loop}.step_failed", extra=extra)
    else:
        log.warning(f"{loop}.step_failed", extra=extra)
    return float(min(LONGEST_BACKOFF_SECONDS, 0.5 * 2 ** min(failures, 8)))
