"""The OpenTimestamps calendar protocol, over httpx with firm limits.

``POST {calendar}/digest`` with the raw digest answers a timestamp rooted at
that digest (a pending attestation); ``GET {calendar}/timestamp/{hex}`` answers
the upgrade of a commitment, or 404 while it is still pending.
"""

from __future__ import annotations

import logging

import httpx
from opentimestamps.core.serialize import (
    BytesDeserializationContext,
    DeserializationError,
)
from opentimestamps.core.timestamp import Timestamp

logger = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 10_000
HEADERS = {
    "Accept": "application/vnd.opentimestamps.v1",
    "User-Agent": "pixel-sceau",
}


class CalendarError(Exception):
    """The calendar did not give a usable answer (refused, 5xx, timeout…)."""


class CalendarClient:
    """One HTTP client for every calendar, kept: building one loads the CA
    bundle, which costs more CPU than the request itself."""

    def __init__(
        self, timeout: float, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.timeout = timeout
        self._http = httpx.Client(
            timeout=timeout,
            headers=HEADERS,
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def submit(self, calendar: str, digest: bytes) -> Timestamp:
        answer = self._request("POST", f"{calendar.rstrip('/')}/digest", digest)
        if answer is None:
            raise CalendarError("the calendar does not know the digest it was sent")
        return _parse(answer, digest)

    def upgrade(self, calendar: str, commitment: bytes) -> Timestamp | None:
        """The commitment's upgrade, or None while the calendar has none."""
        url = f"{calendar.rstrip('/')}/timestamp/{commitment.hex()}"
        answer = self._request("GET", url, None)
        return None if answer is None else _parse(answer, commitment)

    def _request(self, method: str, url: str, body: bytes | None) -> bytes | None:
        try:
            with self._http.stream(method, url, content=body) as r:
                if r.status_code == 404:
                    return None
                if r.status_code != 200:
                    raise CalendarError(f"HTTP {r.status_code}")
                data = b""
                for chunk in r.iter_bytes():
                    data += chunk
                    if len(data) > MAX_ANSWER_BYTES:
                        raise CalendarError("answer larger than 10 000 bytes")
                return data
        except httpx.TimeoutException as exc:
            raise CalendarError("timeout") from exc
        except httpx.HTTPError as exc:
            raise CalendarError(type(exc).__name__) from exc


def _parse(answer: bytes, msg: bytes) -> Timestamp:
    try:
        context = BytesDeserializationContext(answer)
        timestamp = Timestamp.deserialize(context, msg)
        context.assert_eof()
    except (DeserializationError, ValueError, KeyError) as exc:
        raise CalendarError("the answer is not an OpenTimestamps timestamp") from exc
    return timestamp
