"""Real PDFs for tests and benchmarks, built from scratch with pyHanko's writer."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PdfFileWriter


def _page_with_text(writer: PdfFileWriter, text: str) -> generic.DictionaryObject:
    font = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Font"),
                generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
                generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
            }
        )
    )
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = generic.StreamObject(
        stream_data=f"BT /F1 14 Tf 72 760 Td ({safe}) Tj ET".encode("latin-1")
    )
    return generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(n) for n in (0, 0, 595, 842)]
            ),
            generic.NameObject("/Resources"): generic.DictionaryObject(
                {
                    generic.NameObject("/Font"): generic.DictionaryObject(
                        {generic.NameObject("/F1"): font}
                    )
                }
            ),
            generic.NameObject("/Contents"): writer.add_object(content),
        }
    )


def one_page_pdf(text: str = "Attestation de garantie n. 2026-04231") -> bytes:
    writer = PdfFileWriter()
    writer.insert_page(_page_with_text(writer, text))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def large_pdf(size_bytes: int) -> bytes:
    """A one-page PDF padded to about ``size_bytes`` with an incompressible
    embedded file, like a scanned act with attachments."""
    writer = PdfFileWriter()
    writer.insert_page(_page_with_text(writer, "Acte volumineux"))
    blob = generic.StreamObject(
        {generic.NameObject("/Type"): generic.NameObject("/EmbeddedFile")},
        stream_data=os.urandom(size_bytes),
    )
    writer.root[generic.NameObject("/PixelSceauPadding")] = writer.add_object(blob)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf(tmp_path: Path) -> bytes:
    """The one-page PDF, encrypted with a user password by qpdf."""
    source = tmp_path / "clair.pdf"
    target = tmp_path / "chiffre.pdf"
    source.write_bytes(one_page_pdf())
    subprocess.run(
        [
            "qpdf",
            "--encrypt",
            "motdepasse",
            "proprietaire",
            "256",
            "--",
            source,
            target,
        ],
        check=True,
    )
    return target.read_bytes()


def many_pages_pdf(count: int) -> bytes:
    """A PDF of ``count`` pages, each saying its number."""
    writer = PdfFileWriter()
    for number in range(1, count + 1):
        writer.insert_page(_page_with_text(writer, f"Page {number} sur {count}"))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def text_of(pdf: bytes, tmp_path: Path, name: str = "dossier.pdf") -> str:
    """The words of ``pdf`` as pdftotext reads them, on one line."""
    from tests.support.validators import pdftotext

    path = tmp_path / name
    path.write_bytes(pdf)
    return " ".join(pdftotext(path).split())
