"""Child processes of ``sceau serve`` that must never outlive it."""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


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
