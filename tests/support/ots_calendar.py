"""A test OpenTimestamps calendar and a test Bitcoin header source, on loopback.

Honest about what they are: the calendar speaks the calendar protocol
(``POST /digest``, ``GET /timestamp/<hex>``) and hands out pending
attestations; ``complete()`` then gathers its pending commitments into a
"block" whose header this module's chain serves, through an Esplora-style API
and a Bitcoin Core-style JSON-RPC. No proof of work, no real Bitcoin: a test
peer that lives in tests/ and is never a production default.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bitcoin.core import CBlockHeader
from opentimestamps.core.notary import (
    BitcoinBlockHeaderAttestation,
    PendingAttestation,
)
from opentimestamps.core.op import OpAppend, OpPrepend, OpSHA256
from opentimestamps.core.serialize import BytesSerializationContext
from opentimestamps.core.timestamp import Timestamp, make_merkle_tree

GENESIS_TIME = 1_764_720_000  # 2025-12-03, any fixed past moment


def _serialize(timestamp: Timestamp) -> bytes:
    context = BytesSerializationContext()
    timestamp.serialize(context)
    return context.getbytes()


@dataclass
class Block:
    height: int
    header: CBlockHeader

    @property
    def raw(self) -> bytes:
        return self.header.serialize()

    @property
    def hash_hex(self) -> str:
        return hashlib.sha256(hashlib.sha256(self.raw).digest()).digest()[::-1].hex()


@dataclass
class LoopbackChain:
    """Block headers by height, as a node or an Esplora API would give them."""

    blocks: dict[int, Block] = field(default_factory=dict)
    # Heights whose header is served with another Merkle root (a lying or
    # broken source): the proof must then never be confirmed.
    lie_at: set[int] = field(default_factory=set)
    down: bool = False
    url: str = ""

    def add(self, height: int, merkle_root: bytes) -> Block:
        previous = self.blocks.get(height - 1)
        header = CBlockHeader(
            nVersion=0x20000000,
            hashPrevBlock=bytes.fromhex(previous.hash_hex)[::-1]
            if previous
            else b"\0" * 32,
            hashMerkleRoot=merkle_root,
            nTime=GENESIS_TIME + 600 * height,
            nBits=0x1D00FFFF,
            nNonce=height,
        )
        block = Block(height, header)
        self.blocks[height] = block
        return block

    def served(self, height: int) -> Block | None:
        block = self.blocks.get(height)
        if block is None or height not in self.lie_at:
            return block
        header = block.header
        return Block(
            height,
            CBlockHeader(
                nVersion=header.nVersion,
                hashPrevBlock=header.hashPrevBlock,
                # Another root, the same at every call: a consistent liar.
                hashMerkleRoot=hashlib.sha256(b"lie" + header.hashMerkleRoot).digest(),
                nTime=header.nTime,
                nBits=header.nBits,
                nNonce=header.nNonce,
            ),
        )

    def by_hash(self, hash_hex: str) -> Block | None:
        for height in self.blocks:
            block = self.served(height)
            if block is not None and block.hash_hex == hash_hex:
                return block
        return None


@dataclass
class LoopbackCalendar:
    chain: LoopbackChain
    url: str = ""
    # "ok", "error" (HTTP 500 to everything) or "hang" (answers too late).
    mode: str = "ok"
    hang_seconds: float = 30.0
    pending: dict[bytes, bool] = field(default_factory=dict)
    completed: dict[bytes, Timestamp] = field(default_factory=dict)
    digests_received: list[bytes] = field(default_factory=list)
    upgrade_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, digest: bytes) -> bytes:
        timestamp = Timestamp(digest)
        commitment = (
            timestamp.ops.add(OpPrepend(int(time.time()).to_bytes(4, "big")))
            .ops.add(OpAppend(os.urandom(8)))
            .ops.add(OpSHA256())
        )
        commitment.attestations.add(PendingAttestation(self.url))
        with self.lock:
            self.digests_received.append(digest)
            self.pending[commitment.msg] = True
        return _serialize(timestamp)

    def complete(self, height: int) -> Block:
        """Put every pending commitment in a block at ``height``."""
        with self.lock:
            commitments = list(self.pending)
            self.pending.clear()
        stamps = [Timestamp(c) for c in commitments]
        # As in a real block, the commitments' tip is hashed with something
        # else (here: random bytes standing for the other transactions) on
        # its way to the block's Merkle root.
        root = make_merkle_tree(stamps).ops.add(OpAppend(os.urandom(32)))
        root = root.ops.add(OpSHA256())
        root.attestations.add(BitcoinBlockHeaderAttestation(height))
        block = self.chain.add(height, root.msg)
        with self.lock:
            for stamp in stamps:
                self.completed[stamp.msg] = stamp
        return block

    def upgrade(self, commitment: bytes) -> bytes | None:
        with self.lock:
            self.upgrade_requests += 1
            stamp = self.completed.get(commitment)
        return None if stamp is None else _serialize(stamp)


def _calendar_handler(calendar: LoopbackCalendar) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _trouble(self) -> bool:
            if calendar.mode == "hang":
                time.sleep(calendar.hang_seconds)
            if calendar.mode in ("error", "hang"):
                self.send_error(500, "calendar trouble")
                return True
            return False

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            digest = self.rfile.read(length)
            if self._trouble():
                return
            if not 1 <= len(digest) <= 64 or self.path != "/digest":
                self.send_error(400)
                return
            self._answer(calendar.submit(digest))

        def do_GET(self) -> None:
            if self._trouble():
                return
            prefix = "/timestamp/"
            if not self.path.startswith(prefix):
                self.send_error(404)
                return
            try:
                commitment = bytes.fromhex(self.path[len(prefix) :])
            except ValueError:
                self.send_error(400)
                return
            answer = calendar.upgrade(commitment)
            if answer is None:
                self.send_response(404)
                self.end_headers()
                self.wfile.write(b"Pending confirmation in Bitcoin blockchain")
                return
            self._answer(answer)

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _chain_handler(chain: LoopbackChain) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            # Esplora: /block-height/<h> and /block/<hash>/header.
            if chain.down:
                self.send_error(503)
                return
            parts = self.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "block-height":
                block = chain.served(int(parts[1]))
                text = block.hash_hex if block else None
            elif len(parts) == 3 and parts[0] == "block" and parts[2] == "header":
                found = chain.by_hash(parts[1])
                text = found.raw.hex() if found else None
            else:
                text = None
            if text is None:
                self.send_error(404)
                return
            self._answer(text.encode(), "text/plain")

        def do_POST(self) -> None:
            # Bitcoin Core JSON-RPC: getblockhash, getblockheader, getblockcount.
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            method, params = request["method"], request.get("params", [])
            result: object = None
            error = None
            if method == "getblockhash":
                block = chain.served(int(params[0]))
                result = block.hash_hex if block else None
            elif method == "getblockheader":
                found = chain.by_hash(params[0])
                verbose = params[1] if len(params) > 1 else True
                if found is not None and not verbose:
                    result = found.raw.hex()
                elif found is not None:
                    result = {
                        "hash": found.hash_hex,
                        "height": found.height,
                        "time": found.header.nTime,
                        "merkleroot": found.header.hashMerkleRoot[::-1].hex(),
                    }
            elif method == "getblockcount":
                result = max(chain.blocks, default=0)
            if result is None:
                error = {"code": -5, "message": "Block not found"}
            body = json.dumps(
                {"result": result, "error": error, "id": request.get("id")}
            )
            self._answer(body.encode(), "application/json")

        def _answer(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def running_chain() -> Iterator[LoopbackChain]:
    chain = LoopbackChain()
    with _serve(_chain_handler(chain)) as server:
        chain.url = f"http://127.0.0.1:{server.server_address[1]}"
        yield chain


@contextmanager
def running_calendar(chain: LoopbackChain) -> Iterator[LoopbackCalendar]:
    calendar = LoopbackCalendar(chain)
    with _serve(_calendar_handler(calendar)) as server:
        calendar.url = f"http://127.0.0.1:{server.server_address[1]}"
        yield calendar
