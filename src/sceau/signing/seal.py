"""The visible seal: where it goes on the page and what it says.

A signature is invisible unless the caller asks for a seal. The placement is
checked twice: what can be judged without the document when it is built
(``SealPlacement``), and the page and its size once the PDF is open
(``place_on_page``). Both refuse with ``AppearanceInvalid``, before anything is
signed. How the seal is drawn lives in ``sceau.signing.seal_drawing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from sceau.signing.errors import AppearanceInvalid

Corner = Literal["bas_droite", "bas_gauche", "haut_droite", "haut_gauche"]
CORNERS: tuple[Corner, ...] = get_args(Corner)
DEFAULT_CORNER: Corner = "bas_droite"
# The last page, where a document's signatures are usually expected.
DEFAULT_PAGE = -1

# Size of a seal placed in a corner, and its distance to the page's edges, in
# PDF points (1/72 inch): 9.2 × 3.2 cm, about 1 cm from the edges.
CORNER_WIDTH = 260
CORNER_HEIGHT = 90
CORNER_MARGIN = 28

# Below this, the fixed lines (code 09, date, reference) would need a type
# smaller than 5 points and the QR code would be hard to scan (2 × 5.6 cm).
MIN_WIDTH = 160
MIN_HEIGHT = 56


@dataclass(frozen=True)
class SealBox:
    """A seal's frame, from the bottom-left corner of the page, in points."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class SealPlacement:
    """Where the caller wants the seal: a page, and a corner or a frame.

    ``page`` counts from 1; a negative page counts from the end (-1 is the
    last page). Without a frame, the seal goes in ``corner`` (bottom right by
    default).
    """

    page: int = DEFAULT_PAGE
    corner: Corner | None = None
    box: SealBox | None = None

    def __post_init__(self) -> None:
        if self.page == 0:
            raise AppearanceInvalid(
                "apparence.page : les pages se comptent à partir de 1 ; "
                "-1 désigne la dernière page."
            )

        if self.corner is not None and self.box is not None:
            raise AppearanceInvalid(
                "apparence : indiquez soit position (un coin), soit cadre, "
                "pas les deux."
            )

        if self.corner is not None and self.corner not in CORNERS:
            raise AppearanceInvalid(
                "apparence.position : valeurs admises : " + ", ".join(CORNERS) + "."
            )

        box = self.box
        if box is None:
            return
        if box.x < 0 or box.y < 0:
            raise AppearanceInvalid(
                "apparence.cadre : x et y se mesurent depuis le coin inférieur "
                "gauche de la page et ne peuvent pas être négatifs."
            )
        if box.width < MIN_WIDTH or box.height < MIN_HEIGHT:
            raise AppearanceInvalid(
                f"apparence.cadre : le sceau mesure au moins {MIN_WIDTH} × "
                f"{MIN_HEIGHT} points (largeur × hauteur) pour rester lisible ; "
                f"reçu {box.width} × {box.height}."
            )


@dataclass(frozen=True)
class Appearance:
    """What the seal shows, and where: known once the reference is chosen."""

    placement: SealPlacement
    signer_name: str
    code_09: str
    reason: str
    signed_at: datetime
    ref_signature: str
    verification_url: str


@dataclass(frozen=True)
class PlacedSeal:
    """A seal resolved on one page: a zero-based page index and the widget's
    rectangle (left, bottom, right, top) in the page's coordinates."""

    page_index: int
    rect: tuple[int, int, int, int]

    @property
    def width(self) -> int:
        return self.rect[2] - self.rect[0]

    @property
    def height(self) -> int:
        return self.rect[3] - self.rect[1]


def place_on_page(
    writer: IncrementalPdfFileWriter, placement: SealPlacement
) -> PlacedSeal:
    """The page and rectangle of the seal in this document, or why not."""
    page_count = int(writer.root["/Pages"]["/Count"])
    index = placement.page - 1 if placement.page > 0 else page_count + placement.page
    if not 0 <= index < page_count:
        raise AppearanceInvalid(
            f"apparence.page : le document compte {page_count} page(s), la page "
            f"{placement.page} n'existe pas."
        )

    page_ref = writer.find_page_for_modification(index)[0]
    left, bottom, right, top = _visible_box(page_ref.get_object())
    page_width, page_height = right - left, top - bottom

    # TODO(rotated pages): corners and frames are taken on the unrotated page;
    # on a page with /Rotate the seal lands, and reads, turned with it.
    if placement.box is not None:
        box = placement.box
        if box.x + box.width > page_width or box.y + box.height > page_height:
            raise AppearanceInvalid(
                f"apparence.cadre : le cadre dépasse de la page {placement.page}, "
                f"qui mesure {page_width:g} × {page_height:g} points."
            )
        x: float = box.x
        y: float = box.y
        width, height = box.width, box.height
    else:
        width, height = CORNER_WIDTH, CORNER_HEIGHT
        if width + 2 * CORNER_MARGIN > page_width or (
            height + 2 * CORNER_MARGIN > page_height
        ):
            raise AppearanceInvalid(
                f"apparence : la page {placement.page} ({page_width:g} × "
                f"{page_height:g} points) est trop petite pour un sceau en coin ; "
                "indiquez un cadre."
            )
        corner = placement.corner or DEFAULT_CORNER
        x = (
            CORNER_MARGIN
            if corner.endswith("gauche")
            else page_width - (CORNER_MARGIN + width)
        )
        y = (
            CORNER_MARGIN
            if corner.startswith("bas")
            else page_height - (CORNER_MARGIN + height)
        )

    x0, y0 = round(left + x), round(bottom + y)
    return PlacedSeal(index, (x0, y0, x0 + round(width), y0 + round(height)))


def _visible_box(page: generic.DictionaryObject) -> tuple[float, float, float, float]:
    """The page's crop box (what a viewer shows), else its media box; both may
    be inherited from the page tree."""
    for key in ("/CropBox", "/MediaBox"):
        node: generic.PdfObject | None = page
        while isinstance(node, generic.DictionaryObject):
            if key in node:
                x1, y1, x2, y2 = (float(v) for v in node[key])
                return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)
            parent = node.get("/Parent")
            node = parent.get_object() if parent is not None else None
    # ISO 32000 makes /MediaBox required; a page without one is shown as Letter.
    return 0.0, 0.0, 612.0, 792.0
