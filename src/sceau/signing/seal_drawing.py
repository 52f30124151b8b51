"""How the seal is drawn: one appearance stream for the signature's widget.

The stream is written here rather than through pyHanko's text and QR stamps:
those encode text for the standard fonts in a way that garbles French accents,
and need the ``qrcode`` package. The seal uses Helvetica, a standard font that
every viewer has, so nothing is embedded or downloaded; its text is real text
(a reader can select and search it). The QR code is drawn as rectangles, sharp
at any zoom and in print.

Layout, left to right: the QR code, then five lines: the signer's name (bold),
the code 09, the reason (cut with an ellipsis when too long), the date and
time in UTC, and the signature's reference.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache
from itertools import accumulate

import segno
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp.base import BaseStamp, BaseStampStyle

from sceau.signing.seal import Appearance

# Advance widths of Helvetica and Helvetica-Bold for ASCII 32 to 126, in
# thousandths of the type size (Adobe's metrics, shared by metric-compatible
# clones). Other characters are measured as 1000, the widest: a line may then
# be cut a little early, never drawn past the frame.
_REGULAR_WIDTHS = (
    278, 278, 355, 556, 556, 889, 667, 222, 333, 333, 389, 584, 278, 333, 278,
    278, 556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584,
    584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556,
    833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278,
    278, 278, 469, 556, 222, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222,
    500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500,
    500, 334, 260, 334, 584,
)  # fmt: skip
_BOLD_WIDTHS = (
    278, 333, 474, 556, 556, 889, 722, 278, 333, 333, 389, 584, 278, 333, 278,
    278, 556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584,
    584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611,
    833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333,
    278, 333, 584, 556, 278, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278,
    556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556,
    500, 389, 280, 389, 584,
)  # fmt: skip
_WIDEST = 1000

_PADDING = 5.0
_LINE_SPACING = 1.22
_MAX_TYPE_SIZE = 9.0
_LINES = 5
# The QR code never takes more than this share of the width, so that a tall
# frame still leaves room for the text.
_QR_MAX_SHARE = 0.42
# White modules around the code; the standard asks for 4, but the seal's white
# background already surrounds it with the padding.
_QR_QUIET_MODULES = 2
# Choosing the mask, as the standard suggests, scores all eight and costs about
# 7 ms of the 9.5 ms a code takes to build; every decoder reads every mask. For
# this service's addresses, mask 2 is the one the scoring picks most often.
_QR_MASK = 2
_DARK_RUN = re.compile(b"\x01+")
_ELLIPSIS = "…"

_INK = b"0.1 0.1 0.12"
_FRAME = b"0.11 0.23 0.45"


def _font(base_font: str) -> generic.DictionaryObject:
    return generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name(f"/{base_font}"),
            pdf_name("/Encoding"): pdf_name("/WinAnsiEncoding"),
        }
    )


@dataclass(frozen=True)
class _Font:
    resource: str
    widths: tuple[int, ...]

    def width(self, text: str, size: float) -> float:
        return sum(self.advances(text)) * size / 1000

    def advances(self, text: str) -> list[int]:
        return [_advance(self.widths, char) for char in text]


@lru_cache(maxsize=4096)
def _advance(widths: tuple[int, ...], char: str) -> int:
    code = ord(_ascii_base(char))
    return widths[code - 32] if 32 <= code <= 126 else _WIDEST


_REGULAR = _Font("/F1", _REGULAR_WIDTHS)
_BOLD = _Font("/F2", _BOLD_WIDTHS)


@dataclass(frozen=True)
class SealStyle(BaseStampStyle):
    """The pyHanko stamp style that draws one signature's seal."""

    appearance: Appearance | None = None

    def create_stamp(
        self,
        writer: BasePdfFileWriter,
        box: BoxConstraints,
        text_params: dict[str, object],
    ) -> SealContent:
        if self.appearance is None:
            raise ValueError("a seal needs its appearance")
        return SealContent(writer, self, box, self.appearance)


class SealContent(BaseStamp):
    """The seal's appearance stream; it draws its own frame and background, so
    none of ``BaseStamp``'s rendering is used."""

    def __init__(
        self,
        writer: BasePdfFileWriter,
        style: SealStyle,
        box: BoxConstraints,
        appearance: Appearance,
    ) -> None:
        super().__init__(writer, style, box)
        self.appearance = appearance
        self.set_resource(
            ResourceType.FONT, pdf_name(_REGULAR.resource), _font("Helvetica")
        )
        self.set_resource(
            ResourceType.FONT, pdf_name(_BOLD.resource), _font("Helvetica-Bold")
        )

    def render(self) -> bytes:
        width, height = float(self.box.width), float(self.box.height)
        qr_side = min(height - 2 * _PADDING, width * _QR_MAX_SHARE)
        text_left = 2 * _PADDING + qr_side
        text_width = width - text_left - _PADDING

        return b"\n".join(
            [
                b"q",
                b"1 g 0 0 %s %s re f" % (_num(width), _num(height)),
                b"%s RG 0.8 w 0.4 0.4 %s %s re S"
                % (_FRAME, _num(width - 0.8), _num(height - 0.8)),
                _qr_code(
                    self.appearance.verification_url,
                    left=_PADDING,
                    bottom=(height - qr_side) / 2,
                    side=qr_side,
                ),
                _text_block(
                    self.appearance, left=text_left, width=text_width, height=height
                ),
                b"Q",
            ]
        )

    def as_form_xobject(self) -> generic.StreamObject:
        # The QR code's rectangles compress about tenfold.
        stream = super().as_form_xobject()
        stream.compress()
        return stream


def _qr_code(url: str, *, left: float, bottom: float, side: float) -> bytes:
    """The QR code of ``url`` as filled rectangles, one per run of dark modules
    in a row, drawn in module units so that each is four small integers."""
    code = segno.make(url, error="m", micro=False, mask=_QR_MASK)
    count = len(code.matrix)
    module = side / (count + 2 * _QR_QUIET_MODULES)
    origin_x = left + _QR_QUIET_MODULES * module
    origin_y = bottom + _QR_QUIET_MODULES * module

    # A hair taller than a module, so that anti-aliasing leaves no light seam
    # between two rows.
    rectangles = [
        b"%d %d %d 1.02 re" % (run.start(), count - 1 - row_number, len(run[0]))
        for row_number, row in enumerate(code.matrix)
        for run in _DARK_RUN.finditer(row)
    ]
    scale = b"%s 0 0 %s %s %s cm" % (
        _num(module),
        _num(module),
        _num(origin_x),
        _num(origin_y),
    )
    return b"q 0 g " + scale + b"\n" + b"\n".join(rectangles) + b"\nf Q"


def _text_block(
    appearance: Appearance, *, left: float, width: float, height: float
) -> bytes:
    signed_at = appearance.signed_at.astimezone(UTC)
    fixed = [
        (_REGULAR, appearance.code_09),
        (_REGULAR, f"Signé le {signed_at:%d/%m/%Y à %H:%M} UTC"),
        (_REGULAR, f"Réf. {appearance.ref_signature}"),
    ]

    # The largest size at which five lines fit the height and the lines that
    # must not be cut fit the width.
    size = min(_MAX_TYPE_SIZE, (height - 2 * _PADDING) / (_LINES * _LINE_SPACING))
    widest = max(font.width(text, 1) for font, text in fixed)
    size = min(size, width / widest)

    lines = [
        (_BOLD, _cut(_BOLD, _one_line(appearance.signer_name), size, width)),
        fixed[0],
        (
            _REGULAR,
            _cut(_REGULAR, "Motif : " + _one_line(appearance.reason), size, width),
        ),
        *fixed[1:],
    ]
    leading = size * _LINE_SPACING
    block_top = height / 2 + leading * _LINES / 2
    # The first baseline sits one ascent (about 0.75 em) under the block's top.
    baseline = block_top - size * 0.95

    ops = [b"BT", _INK + b" rg"]
    for number, (font, text) in enumerate(lines):
        y = baseline - number * leading
        ops.append(
            b"%s %s Tf 1 0 0 1 %s %s Tm (%s) Tj"
            % (font.resource.encode(), _num(size), _num(left), _num(y), _pdf_text(text))
        )
    ops.append(b"ET")
    return b"\n".join(ops)


def _cut(font: _Font, text: str, size: float, width: float) -> str:
    """``text``, or its longest start that fits with an ellipsis after it."""
    budget = width * 1000 / size
    ends = list(accumulate(font.advances(text)))
    if not ends or ends[-1] <= budget:
        return text
    budget -= font.width(_ELLIPSIS, 1000)
    kept = sum(1 for end in ends if end <= budget)
    return text[:kept].rstrip() + _ELLIPSIS


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _ascii_base(char: str) -> str:
    """``é`` → ``e``: accented letters are as wide as their base letter. Only
    canonical decompositions count: ``…`` is not as wide as ``.``."""
    if char.isascii():
        return char
    base = unicodedata.normalize("NFD", char)[:1]
    return base if base.isascii() and base else char


def _pdf_text(text: str) -> bytes:
    """``text`` as a PDF literal string in WinAnsiEncoding, bytes above ASCII as
    octal escapes; a character the encoding lacks falls back to its ASCII
    spelling, or to ``?``."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            encoded = char.encode("cp1252")
        except UnicodeEncodeError:
            # ``ł`` has no decomposition and becomes ``?``; ``ﬁ`` becomes fi.
            spelled = unicodedata.normalize("NFKD", char).encode("ascii", "ignore")
            encoded = spelled or b"?"
        for byte in encoded:
            if byte in b"()\\":
                out += b"\\" + bytes([byte])
            elif 32 <= byte < 127:
                out.append(byte)
            else:
                out += b"\\%03o" % byte
    return bytes(out)


def _num(value: float) -> bytes:
    return b"%.2f" % value
