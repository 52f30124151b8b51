"""Where block headers come from, and the check of a Bitcoin attestation.

A proof is confirmed only when the block at the attested height has, as its
Merkle root, the digest the proof arrives at. The header comes from a source
the operator trusts: a Bitcoin Core node (RPC ``getblockhash`` and
``getblockheader``) or an Esplora-compatible HTTP API. The header's own hash
is recomputed and compared with the hash the source named, so a source
cannot hand over a header of another block by mistake.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from bitcoin.core import CBlockHeader
from opentimestamps.core.notary import BitcoinBlockHeaderAttestation, VerificationError

HEADER_BYTES = 80


class HeaderUnavailable(Exception):
    """The source could not give the block header (down, unknown height…)."""


class AttestationMismatch(Exception):
    """The block's Merkle root is not what the proof arrives at."""


@dataclass(frozen=True)
class BlockHeader:
    height: int
    hash_hex: str
    raw: bytes

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(CBlockHeader.deserialize(self.raw).nTime, UTC)


class HeaderSource(Protocol):
    def header_at(self, height: int) -> BlockHeader: ...


def _checked(height: int, hash_hex: str, raw: bytes) -> BlockHeader:
    if len(raw) != HEADER_BYTES:
        raise HeaderUnavailable("a block header is 80 bytes")
    computed = hashlib.sha256(hashlib.sha256(raw).digest()).digest()[::-1].hex()
    if computed != hash_hex.lower():
        raise HeaderUnavailable("the header's hash is not the block hash given")
    return BlockHeader(height=height, hash_hex=computed, raw=raw)


class EsploraHeaderSource:
    """``GET {base}/block-height/{h}`` then ``GET {base}/block/{hash}/header``."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def header_at(self, height: int) -> BlockHeader:
        base, http = self.base_url, self._http
        try:
            hash_hex = _text(http.get(f"{base}/block-height/{height}"))
            raw = bytes.fromhex(_text(http.get(f"{base}/block/{hash_hex}/header")))
        except (httpx.HTTPError, ValueError) as exc:
            raise HeaderUnavailable(type(exc).__name__) from exc
        return _checked(height, hash_hex, raw)


@dataclass(frozen=True)
class BitcoinCoreHeaderSource:
    """JSON-RPC to a Bitcoin Core node; credentials in the URL's user part."""

    rpc_url: str
    timeout: float = 10.0
    transport: httpx.BaseTransport | None = None

    def header_at(self, height: int) -> BlockHeader:
        parts = urlsplit(self.rpc_url)
        auth = (parts.username or "", parts.password or "") if parts.username else None
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        url = urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))
        try:
            with httpx.Client(
                timeout=self.timeout, transport=self.transport, auth=auth
            ) as http:
                hash_hex = _rpc(http, url, "getblockhash", [height])
                raw = bytes.fromhex(
                    _rpc(http, url, "getblockheader", [hash_hex, False])
                )
        except (httpx.HTTPError, ValueError) as exc:
            raise HeaderUnavailable(type(exc).__name__) from exc
        return _checked(height, hash_hex, raw)


def _text(response: httpx.Response) -> str:
    if response.status_code != 200:
        raise HeaderUnavailable(f"HTTP {response.status_code}")
    return response.text.strip()


def _rpc(http: httpx.Client, url: str, method: str, params: list[object]) -> str:
    response = http.post(
        url, json={"jsonrpc": "1.0", "id": "sceau", "method": method, "params": params}
    )
    if response.status_code not in (200, 500):
        raise HeaderUnavailable(f"HTTP {response.status_code}")
    answer = response.json()
    if answer.get("error"):
        raise HeaderUnavailable(str(answer["error"].get("message", "RPC error"))[:200])
    result = answer.get("result")
    if not isinstance(result, str):
        raise HeaderUnavailable("unexpected RPC answer")
    return result


def header_source_from(spec: str, timeout: float) -> HeaderSource:
    """``esplora:https://…`` or ``bitcoind:http://user:pass@host:8332``."""
    kind, sep, url = spec.partition(":")
    if sep and kind == "esplora":
        return EsploraHeaderSource(url, timeout)
    if sep and kind == "bitcoind":
        return BitcoinCoreHeaderSource(url, timeout)
    raise ValueError(
        "SCEAU_ANCHOR_HEADER_SOURCE must be esplora:<url> or bitcoind:<rpc url>"
    )


def verify_attestation(height: int, digest: bytes, header: BlockHeader) -> datetime:
    """The block time when the block's Merkle root is ``digest``."""
    try:
        seconds = BitcoinBlockHeaderAttestation(height).verify_against_blockheader(
            digest, CBlockHeader.deserialize(header.raw)
        )
    except VerificationError as exc:
        raise AttestationMismatch(str(exc)) from exc
    return datetime.fromtimestamp(seconds, UTC)
