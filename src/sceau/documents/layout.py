"""A small layout for French A4 documents, written in-process with fpdf2.

The standard Helvetica and Courier fonts need nothing installed and nothing
embedded; they are encoded in WinAnsi (Windows-1252), which holds every
letter French needs, including œ, the typographic apostrophe and the dashes.
A character outside it (a name in another script) is written without its
accents when it has a Latin base letter, else as a question mark.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime

from fpdf import FPDF, FontFace, XPos, YPos
from fpdf.enums import WrapMode

ENCODING = "windows-1252"
MARGIN_MM = 18
LABEL_WIDTH_MM = 52
_NO_BREAK_SPACE = "\u00a0"
_NO_BREAK_SPACES = _NO_BREAK_SPACE + "\u202f"
_INK = (27, 35, 48)
_SOFT_INK = (74, 85, 102)
_ACCENT = (8, 70, 58)


def printable(text: str) -> str:
    """``text`` as the standard fonts can draw it (see the module's note)."""
    kept: list[str] = []
    for char in text:
        if char in "\n\t":
            kept.append(" " if char == "\t" else char)
            continue
        if char in _NO_BREAK_SPACES:
            # Unprintable to Python, yet WinAnsi has U+00A0, and no line
            # breaks there: "5 000 000" stays on one line.
            kept.append(_NO_BREAK_SPACE)
            continue
        if not char.isprintable():
            continue
        try:
            char.encode(ENCODING)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char)
            base = "".join(c for c in base if _encodable(c) and c.isprintable())
            kept.append(base or "?")
        else:
            kept.append(char)
    return "".join(kept)


def _encodable(char: str) -> bool:
    try:
        char.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


class _Pages(FPDF):
    footer_text = ""
    free_bottom_mm: float = 0

    def footer(self) -> None:
        self.set_y(-12 - self.free_bottom_mm)
        self.set_font("Helvetica", size=8)
        self.set_text_color(*_SOFT_INK)
        self.cell(0, 5, printable(self.footer_text), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} / {{nb}}", align="R")


class FrenchPdf:
    """A4 portrait, 18 mm margins, text flowing onto new pages as needed.

    ``free_bottom_mm`` keeps a band that high at the bottom of every page
    empty, footer included: room for a seal drawn there once it is signed.
    """

    def __init__(
        self,
        *,
        title: str,
        footer: str,
        created_at: datetime,
        free_bottom_mm: float = 0,
    ) -> None:
        pdf = _Pages(orientation="portrait", unit="mm", format="A4")
        pdf.core_fonts_encoding = ENCODING
        pdf.footer_text = footer
        pdf.free_bottom_mm = free_bottom_mm
        pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
        pdf.set_auto_page_break(auto=True, margin=MARGIN_MM + free_bottom_mm)
        pdf.set_title(printable(title))
        pdf.set_author("Pixel Sceau")
        pdf.set_creator("Pixel Sceau")
        pdf.set_lang("fr-FR")
        pdf.set_creation_date(created_at)
        pdf.add_page()
        self._pdf = pdf

    def title(self, text: str) -> None:
        self._write(text, size=18, style="B", color=_ACCENT, gap=3)

    def heading(self, text: str) -> None:
        self._pdf.ln(3)
        self._write(text, size=13, style="B", color=_ACCENT, gap=1.5)

    def paragraph(self, text: str, *, size: float = 10, bold: bool = False) -> None:
        self._write(text, size=size, style="B" if bold else "", color=_INK, gap=2)

    def note(self, text: str) -> None:
        self._write(text, size=8.5, style="", color=_SOFT_INK, gap=2)

    def facts(self, rows: Sequence[tuple[str, str]]) -> None:
        """Label and value side by side; long values wrap in their column."""
        if not rows:
            return
        pdf = self._pdf
        pdf.set_font("Helvetica", size=9.5)
        pdf.set_text_color(*_INK)
        width = pdf.epw
        with pdf.table(
            col_widths=(LABEL_WIDTH_MM, width - LABEL_WIDTH_MM),
            first_row_as_headings=False,
            borders_layout="HORIZONTAL_LINES",
            line_height=4.8,
            padding=(1.2, 1.5),
            text_align="LEFT",
            wrapmode=WrapMode.WORD,
        ) as table:
            for label, value in rows:
                row = table.row()
                row.cell(printable(label), style=FontFace(emphasis="BOLD"))
                row.cell(printable(value))
        pdf.ln(2)

    def output(self) -> bytes:
        return bytes(self._pdf.output())

    def _write(
        self,
        text: str,
        *,
        size: float,
        style: str,
        color: tuple[int, int, int],
        gap: float,
    ) -> None:
        pdf = self._pdf
        pdf.set_font("Helvetica", style=style, size=size)
        pdf.set_text_color(*color)
        pdf.multi_cell(
            0,
            size * 0.5,
            printable(text),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            align="L",
            wrapmode=WrapMode.WORD,
        )
        pdf.ln(gap)
