"""The visible seal (``apparence``), judged as a reader would: the page drawn by
poppler, the QR code read by zbar, the text extracted by pdftotext, and the
signature still valid for pdfsig."""

from __future__ import annotations

import base64
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageChops
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from sqlalchemy import func, select

from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from sceau.verification.links import verification_page_url
from tests.conftest import LABEL, Provisioned, sign_body
from tests.support.pdfs import many_pages_pdf, one_page_pdf
from tests.support.validators import nss_db, pdfsig, pdfsig_signatures

SIGN_URL = "/api/v1/sceau/b2b/signer"
DPI = 100
# The page of tests/support/pdfs.py: A4 portrait, in points.
PAGE_WIDTH, PAGE_HEIGHT = 595, 842

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _sign(
    api: TestClient, identity: Provisioned, pdf: bytes, **overrides: object
) -> tuple[str, bytes]:
    response = api.post(
        SIGN_URL, headers=identity.headers, json=sign_body(identity, pdf, **overrides)
    )
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    return body["ref_signature"], base64.b64decode(body["pdf_signe_b64"])


def _render(tmp_path: Path, pdf: bytes, page: int, name: str) -> Image.Image:
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    prefix = tmp_path / name
    pages = ["-f", str(page), "-l", str(page)]
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), *pages, "-png", "-singlefile", source, prefix],
        check=True,
        timeout=60,
    )
    return Image.open(f"{prefix}.png").convert("RGB")


def _decoded_qr(tmp_path: Path, image: Image.Image) -> str:
    path = tmp_path / "qr.png"
    image.save(path)
    result = subprocess.run(
        ["zbarimg", "--raw", "-q", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _page_text(tmp_path: Path, pdf: bytes, page: int) -> str:
    path = tmp_path / "texte.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def _changed_area(before: Image.Image, after: Image.Image) -> tuple[int, ...] | None:
    """The pixel box (left, top, right, bottom) where the pages differ."""
    return ImageChops.difference(before, after).getbbox()


def _pixels(x: float, y: float) -> tuple[int, int]:
    """A point of the page (from its bottom-left corner) as image pixels."""
    return round(x * DPI / 72), round((PAGE_HEIGHT - y) * DPI / 72)


def _assert_within(area: tuple[int, ...] | None, box: tuple[float, ...]) -> None:
    """``area`` is the seal's frame ``box`` (x, y, width, height), give or take
    the anti-aliasing of its edges."""
    assert area is not None, "the page is unchanged: no seal was drawn"
    x, y, width, height = box
    left, top = _pixels(x, y + height)
    right, bottom = _pixels(x + width, y)
    assert abs(area[0] - left) <= 2 and abs(area[2] - right) <= 2, (area, box)
    assert abs(area[1] - top) <= 2 and abs(area[3] - bottom) <= 2, (area, box)


def _assert_valid(tmp_path: Path, api: TestClient, pdf: bytes) -> None:
    nssdb = nss_db(tmp_path, api.get("/pki/root.crt").content)
    path = tmp_path / "signe.pdf"
    path.write_bytes(pdf)
    [block] = pdfsig_signatures(pdfsig(path, nssdb))
    assert block["Signature Validation"] == "Signature is Valid.", block
    assert block["Certificate Validation"] == "Certificate is Trusted.", block
    assert block["Signed Ranges"].endswith("]"), block


def _widget_rects(pdf: bytes) -> list[list[float]]:
    reader = PdfFileReader(BytesIO(pdf))
    return [
        [float(v) for v in field.get_object()["/Rect"]]
        for _, _, field in enumerate_sig_fields(reader)
    ]


def _signature_count(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(SignatureRecord)) or 0


# -- seals that are drawn ----------------------------------------------------


def test_sign_with_corner_draws_a_scannable_seal(
    api: TestClient, atlanta: Provisioned, runtime: Runtime, tmp_path: Path
) -> None:
    source = one_page_pdf()

    ref, signed = _sign(api, atlanta, source, apparence={"position": "bas_droite"})

    _assert_valid(tmp_path, api, signed)
    before = _render(tmp_path, source, 1, "avant")
    after = _render(tmp_path, signed, 1, "apres")
    # 260 × 90 points, 28 points from the right and bottom edges.
    _assert_within(_changed_area(before, after), (PAGE_WIDTH - 288, 28, 260, 90))
    assert _decoded_qr(tmp_path, after) == verification_page_url(
        runtime.settings.public_base_url, ref
    )
    text = _page_text(tmp_path, signed, 1)
    assert atlanta.code_09 in text
    assert f"Réf. {ref}" in text
    assert "Signé le " in text and " UTC" in text


@pytest.mark.parametrize(
    ("corner", "x", "y"),
    [
        ("bas_gauche", 28, 28),
        ("haut_droite", PAGE_WIDTH - 288, PAGE_HEIGHT - 118),
        ("haut_gauche", 28, PAGE_HEIGHT - 118),
    ],
)
def test_sign_with_each_corner_places_the_seal_there(
    api: TestClient,
    atlanta: Provisioned,
    tmp_path: Path,
    corner: str,
    x: int,
    y: int,
) -> None:
    source = one_page_pdf()

    _, signed = _sign(
        api, atlanta, source, apparence={"position": corner}, niveau="B-B"
    )

    before = _render(tmp_path, source, 1, "avant")
    after = _render(tmp_path, signed, 1, "apres")
    _assert_within(_changed_area(before, after), (x, y, 260, 90))


def test_sign_with_box_shows_full_name_reason_and_qr(
    api: TestClient, atlanta: Provisioned, runtime: Runtime, tmp_path: Path
) -> None:
    source = one_page_pdf()
    box = {"x": 72, "y": 500, "largeur": 420, "hauteur": 120}

    ref, signed = _sign(api, atlanta, source, apparence={"page": 1, "cadre": box})

    _assert_valid(tmp_path, api, signed)
    before = _render(tmp_path, source, 1, "avant")
    after = _render(tmp_path, signed, 1, "apres")
    _assert_within(_changed_area(before, after), (72, 500, 420, 120))
    assert _decoded_qr(tmp_path, after) == verification_page_url(
        runtime.settings.public_base_url, ref
    )
    text = _page_text(tmp_path, signed, 1)
    assert LABEL in text
    assert atlanta.code_09 in text
    assert "Motif : Attestation de garantie n° 2026-04231" in text


def test_sign_on_last_page_leaves_first_page_untouched(
    api: TestClient, atlanta: Provisioned, runtime: Runtime, tmp_path: Path
) -> None:
    source = many_pages_pdf(2)

    ref, signed = _sign(api, atlanta, source, apparence={"page": -1})

    _assert_valid(tmp_path, api, signed)
    first_before = _render(tmp_path, source, 1, "p1-avant")
    first_after = _render(tmp_path, signed, 1, "p1-apres")
    assert _changed_area(first_before, first_after) is None
    last_before = _render(tmp_path, source, 2, "p2-avant")
    last_after = _render(tmp_path, signed, 2, "p2-apres")
    _assert_within(
        _changed_area(last_before, last_after), (PAGE_WIDTH - 288, 28, 260, 90)
    )
    assert _decoded_qr(tmp_path, last_after) == verification_page_url(
        runtime.settings.public_base_url, ref
    )


def test_sign_with_long_reason_cuts_it_inside_the_frame(
    api: TestClient, atlanta: Provisioned, tmp_path: Path
) -> None:
    source = one_page_pdf()
    motif = "Avenant « tous risques » au contrat n° 2026-04231 — " * 8

    _, signed = _sign(api, atlanta, source, motif=motif.strip(), apparence={})

    before = _render(tmp_path, source, 1, "avant")
    after = _render(tmp_path, signed, 1, "apres")
    _assert_within(_changed_area(before, after), (PAGE_WIDTH - 288, 28, 260, 90))
    assert "Motif : Avenant « tous risques »" in _page_text(tmp_path, signed, 1)
    assert "…" in _page_text(tmp_path, signed, 1)


def test_sealed_document_passes_public_verification(
    api: TestClient, atlanta: Provisioned
) -> None:
    ref, signed = _sign(api, atlanta, one_page_pdf(), apparence={"page": 1})

    response = api.post("/api/v1/sceau/verifier", files={"fichier": ("a.pdf", signed)})

    assert response.status_code == 200, response.text[:300]
    report = response.json()
    assert report["verdict"]["indication"] == "TOTAL-PASSED", report
    assert [s["ref_signature"] for s in report["signatures"]] == [ref]


# -- no seal -----------------------------------------------------------------


def test_sign_without_apparence_stays_invisible(
    api: TestClient, atlanta: Provisioned, tmp_path: Path
) -> None:
    source = one_page_pdf()

    _, signed = _sign(api, atlanta, source)

    assert _widget_rects(signed) == [[0.0, 0.0, 0.0, 0.0]]
    before = _render(tmp_path, source, 1, "avant")
    after = _render(tmp_path, signed, 1, "apres")
    assert _changed_area(before, after) is None


def test_sign_with_apparence_has_a_visible_widget(
    api: TestClient, atlanta: Provisioned
) -> None:
    box = {"x": 100, "y": 100, "largeur": 200, "hauteur": 80}

    _, signed = _sign(api, atlanta, one_page_pdf(), apparence={"cadre": box})

    assert _widget_rects(signed) == [[100.0, 100.0, 300.0, 180.0]]


# -- seals that are refused --------------------------------------------------


@pytest.mark.parametrize(
    ("apparence", "words"),
    [
        ({"page": 0}, "à partir de 1"),
        ({"page": 3}, "compte 2 page(s)"),
        ({"page": -3}, "compte 2 page(s)"),
        ({"position": "milieu"}, "bas_droite, bas_gauche, haut_droite, haut_gauche"),
        ({"cadre": {"x": 500, "y": 40, "largeur": 200, "hauteur": 80}}, "dépasse"),
        ({"cadre": {"x": 40, "y": 800, "largeur": 200, "hauteur": 80}}, "dépasse"),
        ({"cadre": {"x": -1, "y": 40, "largeur": 200, "hauteur": 80}}, "négatifs"),
        ({"cadre": {"x": 40, "y": 40, "largeur": 100, "hauteur": 40}}, "au moins"),
        ({"cadre": {"x": 40, "y": 40, "largeur": 200}}, "hauteur"),
        ({"cadre": {"x": 40.5, "y": 40, "largeur": 200, "hauteur": 80}}, "entier"),
        (
            {
                "position": "bas_gauche",
                "cadre": {"x": 40, "y": 40, "largeur": 200, "hauteur": 80},
            },
            "pas les deux",
        ),
        ({"page": 1, "couleur": "rouge"}, "champ inconnu"),
        ("bas_droite", "objet JSON attendu"),
    ],
)
def test_sign_with_invalid_apparence_is_refused_before_signing(
    api: TestClient,
    atlanta: Provisioned,
    runtime: Runtime,
    apparence: Any,
    words: str,
) -> None:
    response = api.post(
        SIGN_URL,
        headers=atlanta.headers,
        json=sign_body(atlanta, many_pages_pdf(2), apparence=apparence),
    )

    assert response.status_code == 422, response.text[:300]
    error = response.json()["erreur"]
    assert error["code"] == "apparence_invalide"
    assert words in error["message"]
    assert _signature_count(runtime) == 0


def test_sign_with_corner_on_a_tiny_page_asks_for_a_box(
    api: TestClient, atlanta: Provisioned, runtime: Runtime
) -> None:
    # Same length, so the cross-reference offsets stay right.
    tiny = one_page_pdf().replace(b"[ 0 0 595 842 ]", b"[ 0 0 200 200 ]")
    assert tiny != one_page_pdf()

    response = api.post(
        SIGN_URL, headers=atlanta.headers, json=sign_body(atlanta, tiny, apparence={})
    )

    assert response.status_code == 422, response.text[:300]
    error = response.json()["erreur"]
    assert error["code"] == "apparence_invalide"
    assert "indiquez un cadre" in error["message"]
    assert _signature_count(runtime) == 0
