"""The encrypted container: a plain header, then the archive in chunks of
AES-256-GCM, so that neither writing nor reading holds the whole backup in
memory.

Layout::

    "SCEAUBAK" | format (u16) | header length (u32) | header (JSON)
    chunk*  where chunk = final flag (u8) | length (u32) | ciphertext + tag

The header carries a random salt, from which and the backup key HKDF-SHA256
derives the file's encryption key, and a check value of the key alone, so
that a wrong key is told apart from a damaged file. Each chunk's nonce is
its number (unique under a key used for one file only), and its associated
data binds the header, the number and the final flag: a chunk altered,
dropped, moved or added, a header changed, or a file cut short at a chunk
boundary, all fail authentication; and nothing is restored from a file
that does not end with its final chunk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sceau.backup.errors import BackupDamaged, WrongBackupKey

MAGIC = b"SCEAUBAK"
FORMAT_VERSION = 1
CHUNK_BYTES = 1 << 20
_PREFIX = struct.Struct(">8sHI")
_CHUNK = struct.Struct(">BI")
_MAX_HEADER = 64 * 1024
_KDF_INFO = b"pixel-sceau backup v1"
_CHECK_INFO = b"pixel-sceau backup key check v1"


def _derive(key: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """The file's encryption key (from the key and the file's salt) and the
    key's check value (from the key alone, so that an altered salt reads as
    an altered file, not as a wrong key)."""
    file_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=_KDF_INFO
    ).derive(key)
    check = HKDF(
        algorithm=hashes.SHA256(), length=16, salt=None, info=_CHECK_INFO
    ).derive(key)
    return file_key, check


def _aad(header_digest: bytes, number: int, final: bool) -> bytes:
    return header_digest + number.to_bytes(8, "big") + bytes([final])


def _nonce(number: int) -> bytes:
    return number.to_bytes(12, "big")


class EncryptingWriter:
    """A write-only stream that encrypts what it is given into ``out``.

    ``finish`` writes the final chunk; a writer dropped before it leaves a
    file that every reader refuses as truncated.
    """

    def __init__(self, out: BinaryIO, key: bytes) -> None:
        salt = os.urandom(32)
        file_key, check = _derive(key, salt)
        header = json.dumps(
            {
                "format": FORMAT_VERSION,
                "cipher": "AES-256-GCM",
                "kdf": "HKDF-SHA256",
                "chunk_bytes": CHUNK_BYTES,
                "salt": salt.hex(),
                "key_check": check.hex(),
            },
            sort_keys=True,
        ).encode()
        prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)) + header
        out.write(prefix)
        self._out = out
        self._aead = AESGCM(file_key)
        self._digest = hashlib.sha256(prefix).digest()
        self._buffer = bytearray()
        self._number = 0
        self._finished = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._finished:
            raise ValueError("write after finish")
        self._buffer += data
        while len(self._buffer) >= CHUNK_BYTES:
            self._emit(bytes(self._buffer[:CHUNK_BYTES]), final=False)
            del self._buffer[:CHUNK_BYTES]
        return len(data)

    def finish(self) -> None:
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()
        self._finished = True

    def _emit(self, plain: bytes, *, final: bool) -> None:
        sealed = self._aead.encrypt(
            _nonce(self._number), plain, _aad(self._digest, self._number, final)
        )
        self._out.write(_CHUNK.pack(int(final), len(sealed)) + sealed)
        self._number += 1


class DecryptingReader:
    """A read-only stream of the plaintext of a container.

    Opening checks the format and the key (``WrongBackupKey``); reading
    raises ``BackupDamaged`` at the first chunk that does not authenticate.
    ``finish`` reads what is left and checks the file ends with its final
    chunk and nothing after it.
    """

    def __init__(self, source: BinaryIO, key: bytes) -> None:
        prefix = source.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            raise BackupDamaged("not a Pixel Sceau backup: the file is too short")
        magic, version, header_length = _PREFIX.unpack(prefix)
        if magic != MAGIC:
            raise BackupDamaged("not a Pixel Sceau backup (no SCEAUBAK header)")
        if version != FORMAT_VERSION:
            raise BackupDamaged(
                f"backup format {version} is not known to this version "
                f"(it reads format {FORMAT_VERSION})"
            )
        if header_length > _MAX_HEADER:
            raise BackupDamaged("the backup's header is damaged")
        header_bytes = source.read(header_length)
        try:
            header = json.loads(header_bytes)
            salt = bytes.fromhex(header["salt"])
            expected_check = bytes.fromhex(header["key_check"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupDamaged("the backup's header is damaged") from exc
        file_key, check = _derive(key, salt)
        if not hmac.compare_digest(check, expected_check):
            raise WrongBackupKey(
                "this backup was made under another backup key: give the key it "
                "was made with (SCEAU_BACKUP_KEY_FILE, SCEAU_BACKUP_KEY or "
                "--key-file)"
            )
        self._source = source
        self._aead = AESGCM(file_key)
        self._digest = hashlib.sha256(prefix + header_bytes).digest()
        self._buffer = bytearray()
        self._number = 0
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            self._next_chunk()
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def finish(self) -> None:
        while not self._ended:
            self._next_chunk()
        if self._source.read(1):
            raise BackupDamaged("the backup has data after its end: it was altered")

    def _next_chunk(self) -> None:
        framing = self._source.read(_CHUNK.size)
        if len(framing) < _CHUNK.size:
            raise BackupDamaged("the backup is truncated: its end is missing")
        flag, length = _CHUNK.unpack(framing)
        if flag > 1 or length > CHUNK_BYTES + 16:
            raise BackupDamaged(f"the backup is damaged at chunk {self._number}")
        sealed = self._source.read(length)
        if len(sealed) < length:
            raise BackupDamaged("the backup is truncated: its end is missing")
        final = flag == 1
        try:
            plain = self._aead.decrypt(
                _nonce(self._number), sealed, _aad(self._digest, self._number, final)
            )
        except InvalidTag as exc:
            raise BackupDamaged(
                f"the backup was altered or damaged: chunk {self._number} does not "
                "authenticate"
            ) from exc
        self._buffer += plain
        self._number += 1
        self._ended = final
