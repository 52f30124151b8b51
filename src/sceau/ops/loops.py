"""What the service's background loops do when a step fails: log it, wait
longer each time, and carry on."""

from __future__ import annotations

import logging
import random

from sceau.db import storage_failure, storage_reason
from sceau.errors import ServiceUnavailable

# While the database is away, a loop waits longer after each failed step, up
# to this, so that an outage of minutes is not thousands of traces.
LONGEST_BACKOFF_SECONDS = 30.0


def outage(exc: BaseException) -> ServiceUnavailable | None:
    """The outage behind ``exc``, anywhere in its chain: the storage under
    the service (the database, the disk) or another part it needs (the
    PKCS#11 token, a time-stamping authority), which is no bug of ours;
    ``None`` for anything else."""
    failure = storage_failure(exc)
    if failure is not None:
        return failure
    walked: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in walked:
        walked.add(id(current))
        if isinstance(current, ServiceUnavailable):
            return current
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return None


def failure_reason(exc: BaseException, failure: ServiceUnavailable | None) -> str:
    """A log line's ``reason``: the driver's words for a storage failure,
    the error's code for another outage, the exception's type and first
    line for a bug."""
    if failure is not None and storage_failure(exc) is None:
        return failure.code
    return storage_reason(exc)


def step_failed(log: logging.Logger, loop: str, exc: Exception, failures: int) -> float:
    """Log a loop's failed step and say how long to wait before the next: the
    first failure with its trace, the next ones as one line each; an outage
    (the storage under the service, the token) is not a bug, and says so
    with its code, without a trace (but for a deadlock or a timeout, which
    may hide one)."""
    failure = outage(exc)
    extra = {
        "failures": failures,
        "code": failure.code if failure is not None else "erreur_interne",
        "reason": failure_reason(exc, failure),
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
