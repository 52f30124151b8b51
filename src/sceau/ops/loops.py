"""What the service's background loops do when a step fails: log it, wait
longer each time, and carry on."""

from __future__ import annotations

import logging
import random

from sceau.db import storage_failure, storage_reason

# While the database is away, a loop waits longer after each failed step, up
# to this, so that an outage of minutes is not thousands of traces.
LONGEST_BACKOFF_SECONDS = 30.0


def step_failed(log: logging.Logger, loop: str, exc: Exception, failures: int) -> float:
    """Log a loop's failed step and say how long to wait before the next: the
    first failure with its trace, the next ones as one line each; a failure
    of the storage under the service is not a bug, and says so (with its
    trace all the same when it may hide one, a deadlock or a timeout)."""
    failure = storage_failure(exc)
    extra = {
        "failures": failures,
        "code": failure.code if failure is not None else "erreur_interne",
        "reason": storage_reason(exc),
    }
    if failures == 1 and (failure is None or failure.log_trace):
        log.exception(f"{loop}.step_failed", extra=extra)
    else:
        log.warning(f"{loop}.step_failed", extra=extra)
    return backoff_seconds(failures)


def backoff_seconds(failures: int) -> float:
    """1 s, 2 s, 4 s… up to 30 s, each shortened at random by up to half, so
    that the processes an outage stopped together do not retry in step."""
    ceiling = min(LONGEST_BACKOFF_SECONDS, 0.5 * 2 ** min(failures, 8))
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - not a secret
