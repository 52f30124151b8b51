"""A verification report carried by the page itself, for its downloads.

The page keeps neither the document nor its report: the report goes into the
page's download forms, compressed and sealed with an HMAC bound to the
visitor's cookie and to an expiry. A download posts it back; the server
recomputes the HMAC and only then renders (and signs) what it verified itself.
Nothing to store, nothing to purge, and any process can serve the download.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import types
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Union, get_args, get_origin, get_type_hints

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sceau.errors import Gone
from sceau.verification.report import DocumentReport

LIFETIME = timedelta(minutes=30)
# A report's JSON compresses about fivefold; this bounds what is inflated.
MAX_INFLATED = 2 * 1024 * 1024


class ReportExpired(Gone):
    code = "rapport_expire"
    message = (
        "Ce rapport n'est plus disponible au téléchargement : déposez à nouveau "
        "le document pour le vérifier."
    )


@dataclass(frozen=True)
class SealedReport:
    payload: str
    expires: int
    seal: str


@lru_cache(maxsize=4)
def report_key(master_key: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"pixel-sceau verification reports v1",
    ).derive(master_key)


def seal_report(
    key: bytes, visitor: str, report: DocumentReport, *, now: datetime
) -> SealedReport:
    data = json.dumps(
        dataclasses.asdict(report),
        ensure_ascii=False,
        separators=(",", ":"),
        default=_encode,
    ).encode()
    payload = base64.urlsafe_b64encode(zlib.compress(data, 9)).decode()
    expires = int((now + LIFETIME).timestamp())
    return SealedReport(payload, expires, _mac(key, visitor, payload, expires))


def open_report(
    key: bytes, visitor: str | None, sealed: SealedReport, *, now: datetime
) -> DocumentReport:
    """The report, if this server sealed it for this visitor and in time."""
    expected = _mac(key, visitor or "", sealed.payload, sealed.expires)
    if not visitor or not hmac.compare_digest(expected, sealed.seal):
        raise ReportExpired()
    if now.timestamp() > sealed.expires:
        raise ReportExpired()
    inflater = zlib.decompressobj()
    data = inflater.decompress(base64.urlsafe_b64decode(sealed.payload), MAX_INFLATED)
    report: DocumentReport = _build(DocumentReport, json.loads(data))
    return report


def _mac(key: bytes, visitor: str, payload: str, expires: int) -> str:
    message = f"{visitor}|{expires}|{payload}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _build(kind: Any, value: Any) -> Any:
    """The report's dataclasses again, from their ``asdict`` form, by their
    annotations (the payload is ours: the seal was checked first)."""
    if value is None:
        return None
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = get_type_hints(kind)
        return kind(
            **{
                field.name: _build(hints[field.name], value[field.name])
                for field in dataclasses.fields(kind)
            }
        )
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        present = [arg for arg in get_args(kind) if arg is not type(None)]
        return _build(present[0], value)
    if origin is tuple:
        return tuple(_build(get_args(kind)[0], item) for item in value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    return value
