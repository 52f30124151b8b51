"""The encrypted container alone, on a plaintext of several chunks: a
chunk dropped, swapped, flagged last too early or not at all, bytes after
the end, a header's key check changed: each is refused, with the exit code
a script can tell apart."""

from __future__ import annotations

import io
import os
import struct

import pytest

from sceau.backup.container import (
    CHUNK_BYTES,
    DecryptingReader,
    EncryptingWriter,
)
from sceau.backup.errors import BackupDamaged, BackupError, WrongBackupKey

KEY = bytes(range(32))
PLAIN = os.urandom(3 * CHUNK_BYTES + 12_345)
_PREFIX = struct.Struct(">8sHI")
_CHUNK = struct.Struct(">BI")


def sealed() -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, KEY)
    # Uneven writes, as tarfile makes them.
    for start in range(0, len(PLAIN), 700_001):
        writer.write(PLAIN[start : start + 700_001])
    writer.finish()
    return out.getvalue()


def layout(data: bytes) -> tuple[bytes, list[bytes]]:
    """The prefix with its header, and the chunks with their framing."""
    _, _, header_length = _PREFIX.unpack_from(data)
    position = _PREFIX.size + header_length
    head, chunks = data[:position], []
    while position < len(data):
        _, length = _CHUNK.unpack_from(data, position)
        end = position + _CHUNK.size + length
        chunks.append(data[position:end])
        position = end
    return head, chunks


def read_all(data: bytes, key: bytes = KEY) -> bytes:
    reader = DecryptingReader(io.BytesIO(data), key)
    plain = b""
    while block := reader.read(100_000):
        plain += block
    reader.finish()
    return plain


def with_flag(chunk: bytes, final: bool) -> bytes:
    return bytes([int(final)]) + chunk[1:]


def test_a_sealed_file_of_several_chunks_reads_back_whole() -> None:
    data = sealed()
    _, chunks = layout(data)

    assert len(chunks) == 4
    assert [c[0] for c in chunks] == [0, 0, 0, 1]
    assert read_all(data) == PLAIN


def altered(how: str) -> bytes:
    head, chunks = layout(sealed())
    if how == "last chunk dropped":
        chunks = chunks[:-1]
    elif how == "two chunks swapped":
        chunks[0], chunks[1] = chunks[1], chunks[0]
    elif how == "a middle chunk flagged final":
        chunks[1] = with_flag(chunks[1], True)
        chunks = chunks[:2]
    elif how == "the final chunk not flagged final":
        chunks[-1] = with_flag(chunks[-1], False)
    elif how == "bytes after the end":
        chunks.append(b"\x00" * 10)
    elif how == "a chunk after the final one":
        chunks.append(chunks[-1])
    return head + b"".join(chunks)


@pytest.mark.parametrize(
    "how",
    [
        "last chunk dropped",
        "two chunks swapped",
        "a middle chunk flagged final",
        "the final chunk not flagged final",
        "bytes after the end",
        "a chunk after the final one",
    ],
)
def test_an_altered_sequence_of_chunks_is_refused_as_damaged(how: str) -> None:
    with pytest.raises(BackupDamaged) as refused:
        read_all(altered(how))

    assert refused.value.exit_code == 4


def test_a_changed_key_check_reads_as_another_key_and_nothing_is_read() -> None:
    data = bytearray(sealed())
    position = data.index(b'"key_check": "') + len(b'"key_check": "')
    data[position] = ord("0") if data[position] != ord("0") else ord("1")

    with pytest.raises(WrongBackupKey) as refused:
        DecryptingReader(io.BytesIO(bytes(data)), KEY)

    assert refused.value.exit_code == 3


def test_another_key_is_refused_before_any_chunk() -> None:
    with pytest.raises(WrongBackupKey):
        read_all(sealed(), bytes(32))


def test_a_header_that_is_not_json_is_damaged() -> None:
    head, chunks = layout(sealed())
    broken = head[: _PREFIX.size] + b"X" + head[_PREFIX.size + 1 :]

    with pytest.raises(BackupError) as refused:
        read_all(broken + b"".join(chunks))

    assert refused.value.exit_code == 4
