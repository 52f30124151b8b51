"""The one-pass hex string reader reads exactly what pyHanko's own does."""

from __future__ import annotations

from io import BytesIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyhanko.pdf_utils.misc import PdfStreamError

from sceau.verification import hex_strings


def _both(data: bytes) -> tuple[object, int, object, int]:
    fast, slow = BytesIO(data), BytesIO(data)
    ours = hex_strings._read_hex_string(fast)
    theirs = hex_strings._original(slow)
    return ours, fast.tell(), theirs, slow.tell()


@given(
    st.text(alphabet="0123456789abcdefABCDEF \n\r\t%x>", max_size=80),
    st.binary(max_size=8),
)
def test_fast_reader_matches_pyhanko(body: str, tail: bytes) -> None:
    data = b"<" + body.encode() + b">" + tail
    try:
        expected = hex_strings._original(BytesIO(data))
    except PdfStreamError:
        with pytest.raises(PdfStreamError):
            hex_strings._read_hex_string(BytesIO(data))
        return

    ours, our_end, theirs, their_end = _both(data)

    assert ours == expected == theirs
    assert our_end == their_end


def test_long_signature_contents_read_in_one_pass() -> None:
    data = b"<" + b"3082" * 50_000 + b"000>" + b" /Type"

    ours, our_end, theirs, their_end = _both(data)

    assert ours == theirs
    assert our_end == their_end == len(data) - len(b" /Type")


def test_unterminated_string_fails_as_in_pyhanko() -> None:
    with pytest.raises(PdfStreamError):
        hex_strings._read_hex_string(BytesIO(b"<3082ab"))
