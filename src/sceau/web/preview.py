"""Pages of a PDF drawn on the server as PNG images, for the review before
signing: the person sees the document without any PDF reader or script.

PDFium is not thread-safe, so every call into it holds one lock; rendered
pages are kept in a small cache, as a review page asks for all of them at once
and a reload asks again.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable

import pypdfium2 as pdfium

from sceau.web.errors import PageNotShown

# The longest side of a rendered page, whatever its format, so that a poster
# or a banner-sized page cannot cost megapixels.
MAX_SIDE_PX = 1800
CACHE_SIZE = 96

_lock = threading.Lock()
_cache: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
_counts: OrderedDict[str, int] = OrderedDict()


class Unrenderable(ValueError):
    """PDFium could not open or draw the document."""


def page_count(pdf: bytes, *, sha256: str | None = None) -> int:
    """The number of pages; remembered by ``sha256`` when given, for a page
    shown again and again (an act, reloaded until it is decided)."""
    with _lock:
        if sha256 is not None and sha256 in _counts:
            return _counts[sha256]
        try:
            document = pdfium.PdfDocument(pdf)
        except pdfium.PdfiumError as exc:
            raise Unrenderable(str(exc)) from exc
        try:
            count = len(document)
        finally:
            document.close()
        if sha256 is not None:
            _counts[sha256] = count
            while len(_counts) > CACHE_SIZE:
                _counts.popitem(last=False)
        return count


def cached_count(sha256: str) -> int | None:
    with _lock:
        return _counts.get(sha256)


def page_png(pdf: bytes, *, sha256: str, index: int, dpi: int) -> bytes:
    """Page ``index`` (from 0) of ``pdf``, whose digest is ``sha256``."""
    key = (sha256, index, dpi)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
        png = _render(pdf, index, dpi)
        _cache[key] = png
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return png


def cached_page(sha256: str, index: int, dpi: int) -> bytes | None:
    """The page if it was drawn already, so the caller can skip loading the PDF."""
    with _lock:
        return _cache.get((sha256, index, dpi))


def shown_page_count(sha256: str, load: Callable[[], bytes]) -> int | None:
    """The pages of a document under review, from the cache or by opening
    what ``load`` returns; ``None`` when PDFium cannot open it."""
    cached = cached_count(sha256)
    if cached is not None:
        return cached
    try:
        return page_count(load(), sha256=sha256)
    except Unrenderable:
        return None


def shown_page_png(
    sha256: str, number: int, *, dpi: int, max_pages: int, load: Callable[[], bytes]
) -> bytes:
    """Page ``number`` (from 1) of a document under review, if it is among the
    first ``max_pages`` (``PageNotShown`` otherwise). ``load`` returns the PDF
    and is called at most once, only when the cache lacks the page."""
    loaded: list[bytes] = []

    def pdf() -> bytes:
        if not loaded:
            loaded.append(load())
        return loaded[0]

    count = shown_page_count(sha256, pdf) or 0
    if not 1 <= number <= min(count, max_pages):
        raise PageNotShown()
    cached = cached_page(sha256, number - 1, dpi)
    if cached is not None:
        return cached
    try:
        return page_png(pdf(), sha256=sha256, index=number - 1, dpi=dpi)
    except Unrenderable as exc:
        raise PageNotShown() from exc


def _render(pdf: bytes, index: int, dpi: int) -> bytes:
    try:
        document = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise Unrenderable(str(exc)) from exc
    try:
        if not 0 <= index < len(document):
            raise Unrenderable(f"no page {index}")
        page = document[index]
        width, height = page.get_size()
        scale = min(dpi / 72, MAX_SIDE_PX / max(width, height, 1))
        image = page.render(scale=scale, may_draw_forms=True).to_pil()
        out = io.BytesIO()
        # PNG keeps the text sharp. zlib's fastest level: a page drawn at 96 dpi
        # then weighs about 20 kB instead of 9, but is encoded in 14 ms instead
        # of 24, and a review page asks for every page at once.
        image.convert("RGB").save(out, format="PNG", optimize=False, compress_level=1)
        page.close()
        return out.getvalue()
    finally:
        document.close()
