"""Child processes of the service: what they see of its environment, and
that they never outlive it."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from sceau.settings import Settings

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1

# What every child keeps of the service's environment: the search path, the
# locale, the time zone and the home; never the rest, where the master key,
# a token PIN or a backup key may live.
CHILD_VARIABLES = frozenset({"PATH", "LANG", "TZ", "HOME"})
CHILD_PREFIXES = ("LC_",)


def minimal_environment(
    extra: Mapping[str, str] | None = None,
    *,
    keep: Iterable[str] = (),
    keep_prefixes: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A child's environment: of ``environ`` (this process's by default),
    PATH, LANG, LC_*, TZ and HOME, plus the variables the caller names in
    ``keep`` and ``keep_prefixes``; then ``extra``, set whatever ``environ``
    held."""
    source = os.environ if environ is None else environ
    names = CHILD_VARIABLES | set(keep)
    prefixes = (*CHILD_PREFIXES, *keep_prefixes)
    kept = {
        name: value
        for name, value in source.items()
        if name in names or name.startswith(prefixes)
    }
    return kept | dict(extra or {})


def die_with_parent() -> None:
    """For ``preexec_fn``: however the parent ends (a signal re-raised, a
    crash, SIGKILL), the kernel stops the child with it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class AnchoringProcess:
    """``sceau anchoring run`` beside the server: one per service, whatever
    the number of HTTP workers, and out of the serving processes, so that a
    pass never holds their interpreter lock while they sign."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sceau", "anchoring", "run"],
            preexec_fn=die_with_parent,  # only a prctl call before exec
        )
        logger.info("anchoring.process_started", extra={"pid": self._process.pid})

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def block_stop_signals() -> None:
    """Before any thread starts: SIGTERM and SIGINT then wait for
    ``wait_for_stop_signal`` instead of interrupting whatever thread runs."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def wait_for_stop_signal() -> int:
    """Block until SIGTERM or SIGINT. Taken synchronously: a Python signal
    handler that sets an Event can deadlock on the Event's own lock when the
    signal lands while the main thread is inside ``Event.wait``."""
    return signal.sigwait(STOP_SIGNALS)


@contextmanager
def anchoring_beside(settings: Settings) -> Iterator[None]:
    """The anchoring worker in a child process while the server runs, unless
    SCEAU_ANCHOR_WORKER_IN_SERVE is false."""
    if not settings.anchor_worker_in_serve:
        yield
        return
    anchoring = AnchoringProcess()
    anchoring.start()
    try:
        yield
    finally:
        anchoring.stop()
