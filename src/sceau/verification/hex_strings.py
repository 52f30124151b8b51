"""Make pyHanko read a PDF hex string in one pass instead of byte by byte.

pyHanko's reader takes a hex string (``<…>``) one byte at a time, through a
generator and a whitespace-skipping call per byte. A signature's ``/Contents``
is such a string, tens of kilobytes long once the room reserved for the CMS is
counted: pyHanko's validation of a 1-page B-LT document took about 86 ms with
its reader and 46 ms with this one (docs/benchmarks.md, verification).

The fast path only takes strings made of hex digits and PDF whitespace, which
it decodes exactly as pyHanko does (an odd final digit padded with ``0``);
anything else (a comment, a stray character, a string cut by the end of the
file) goes back to pyHanko's own reader from the same position, so errors and
odd cases read as before. ``tests/verification/test_hex_strings.py`` compares
both.
"""

from __future__ import annotations

import binascii
import os
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

_PATCHED = "_sceau_reads_at_once"
_CHUNK = 64 * 1024
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_original = generic.read_hex_string_from_stream


def read_hex_strings_at_once() -> None:
    """Install the fast path (idempotent)."""
    if getattr(generic.read_hex_string_from_stream, _PATCHED, False):
        return
    generic.read_hex_string_from_stream = _read_hex_string


def _read_hex_string(stream: Any) -> Any:
    start = stream.tell()
    stream.read(1)  # the opening "<"

    chunks = []
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return _from(stream, start)
        end = chunk.find(b">")
        if end == -1:
            chunks.append(chunk)
            continue
        chunks.append(chunk[:end])
        stream.seek(end + 1 - len(chunk), os.SEEK_CUR)
        break

    digits = b"".join(chunks).translate(None, PDF_WHITESPACE)
    if digits.translate(None, _HEX_DIGITS):
        return _from(stream, start)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def _from(stream: Any, start: int) -> Any:
    stream.seek(start)
    return _original(stream)


setattr(_read_hex_string, _PATCHED, True)
