"""Structured logs: one JSON object per line, an event name and its fields,
and the request id of the request being served on every line."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    # Stamp the request id when the record is made, in the request's context:
    # handlers may format it later, elsewhere (queues, test capture).
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


logging.setLogRecordFactory(_record_with_request_id)

# Attributes every LogRecord has; anything else came from ``extra=`` and is a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "request_id",
}

# Field names that must never be logged, whatever a caller passes.
_FORBIDDEN = {"api_key", "secret", "password", "pdf", "pdf_b64", "master_key", "token"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            entry[key] = "[masqué]" if key in _FORBIDDEN else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        request_id = getattr(record, "request_id", None)
        fields = {
            k: ("[masqué]" if k in _FORBIDDEN else v)
            for k, v in record.__dict__.items()
            if k not in _STANDARD and not k.startswith("_")
        }
        suffix = " ".join(f"{k}={v}" for k, v in fields.items())
        prefix = f"[{request_id}] " if request_id else ""
        return f"{prefix}{base} {suffix}".rstrip()


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log repeats what our request log says, with raw IPs.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def mask_ip(address: str | None) -> str | None:
    """Keep a client address's network, never the full address."""
    if not address:
        return None
    if ":" in address:
        return ":".join(address.split(":")[:3]) + "::/48"
    parts = address.split(".")
    if len(parts) == 4:
        return ".".join(parts[:3]) + ".0/24"
    return None
