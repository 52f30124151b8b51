"""What the client raises."""

from __future__ import annotations


class SceauApiError(Exception):
    """The API answered with an error: ``code`` is its stable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        *,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        # The error's other fields: ``limite`` for hors_enveloppe…
        self.details = details or {}


class SceauTransportError(Exception):
    """No answer: connection refused, TLS handshake refused, timeout."""
