"""The delegation's document as a reader and a seal find it: its text as
poppler extracts it, its structure as qpdf checks it, and the corner where
the person's seal will go, free of any word or stroke."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from datetime import UTC, date, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from sceau.delegations.document import DelegationText, render_delegation
from sceau.delegations.envelope import describe, make_envelope
from sceau.signing.seal import CORNER_HEIGHT, CORNER_MARGIN, CORNER_WIDTH
from tests.support.validators import qpdf_check

REF = "DLG-20261203-7KQ2MX"
FOOTER = f"Pixel Sceau — délégation de signature {REF}"
LABELS = {"police_assurance": "polices d'assurance"}
# Thursday 3 December 2026, 14:05 in Abidjan (UTC+0).
DRAFTED_AT = datetime(2026, 12, 3, 14, 5, 12, tzinfo=UTC)
_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
    r"(.*?)</word>"
)
_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)


def sheet_text(**overrides: Any) -> DelegationText:
    """The sheet's example, signed over by Atlanta's managing director."""
    envelope = make_envelope(
        act_types=["police_assurance"],
        max_amount=5_000_000,
        amount_inclusive=False,
        weekdays=["lundi", "mardi", "mercredi", "jeudi", "vendredi"],
        start="08:00",
        end="18:00",
        time_zone="Africa/Abidjan",
        valid_from=date(2026, 12, 1),
        valid_until=date(2027, 11, 30),
        daily_limit=200,
    )
    text = DelegationText(
        ref=REF,
        person_name="Awa Koné-Diabaté",
        person_code_09="09-AWAKD-7Q3M",
        person_profession="dirigeant",
        client_name="Atlanta Assurances",
        envelope=envelope,
        act_type_labels=LABELS,
        drafted_at=DRAFTED_AT,
    )
    return dataclasses.replace(text, **overrides)


def long_text() -> DelegationText:
    """Sixty act types, each with a long label."""
    labels = {
        f"contrat_flotte_{number:03d}": (
            f"contrats d'assurance de flotte automobile d'entreprise, série {number}"
        )
        for number in range(60)
    }
    base = sheet_text()
    envelope = dataclasses.replace(base.envelope, act_types=tuple(labels))
    return dataclasses.replace(base, envelope=envelope, act_type_labels=labels)


def written(tmp_path: Path, text: DelegationText) -> Path:
    path = tmp_path / f"{text.ref}.pdf"
    path.write_bytes(render_delegation(text))
    return path


def words(text: str) -> str:
    return " ".join(text.split())


def body_text(path: Path) -> str:
    """The pages' text as poppler reads it, one run of words, without the
    footers that would cut a sentence running onto the next page."""
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    kept = [
        line
        for line in result.stdout.splitlines()
        if not line.startswith(FOOTER) and not re.fullmatch(r"Page \d+ / \d+", line)
    ]
    return words("\n".join(kept))


def last_page_words(path: Path) -> tuple[float, float, list[tuple[float, ...]]]:
    """The last page's size and each word's box, in points from its top left,
    as poppler places them."""
    result = subprocess.run(
        ["pdftotext", "-bbox", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    width, height, page = _PAGE.findall(result.stdout)[-1]
    boxes = [tuple(float(v) for v in found[:4]) for found in _WORD.findall(page)]
    return float(width), float(height), boxes


def seal_corner(width: float, height: float) -> tuple[float, float, float, float]:
    """Where ``sceau.signing.seal`` puts a seal by default (bottom right), in
    points from the page's top left: left, top, right, bottom."""
    return (
        width - CORNER_MARGIN - CORNER_WIDTH,
        height - CORNER_MARGIN - CORNER_HEIGHT,
        width - CORNER_MARGIN,
        height - CORNER_MARGIN,
    )


def assert_seal_corner_free(path: Path, tmp_path: Path) -> None:
    page_width, page_height, boxes = last_page_words(path)
    left, top, right, bottom = seal_corner(page_width, page_height)
    assert boxes, "the last page has no text at all"
    for x0, y0, x1, y1 in boxes:
        overlaps = x0 < right and x1 > left and y0 < bottom and y1 > top
        assert not overlaps, (x0, y0, x1, y1)

    # Any stroke at all (a table rule, a drawing): the corner drawn by poppler
    # at 72 dpi, one pixel a point, is blank.
    pages = len(PdfReader(path).pages)
    prefix = tmp_path / "last-page"
    only_last = ["-f", str(pages), "-l", str(pages)]
    subprocess.run(
        ["pdftoppm", "-r", "72", *only_last, "-png", "-singlefile", path, prefix],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with Image.open(f"{prefix}.png") as image:
        gray = image.convert("L")
        corner = gray.crop((int(left), int(top), int(right) + 1, int(bottom) + 1))
        assert corner.getextrema() == (255, 255)


def test_render_delegation_is_the_same_bytes_for_the_same_text() -> None:
    first = render_delegation(sheet_text())
    again = render_delegation(sheet_text())
    # The same instant written in another zone is the same document.
    elsewhere = render_delegation(
        sheet_text(drafted_at=DRAFTED_AT.astimezone(timezone(timedelta(hours=1))))
    )

    assert first == again == elsewhere
    assert first.startswith(b"%PDF-")


def test_render_delegation_dates_the_file_when_drafted() -> None:
    reader = PdfReader(BytesIO(render_delegation(sheet_text())))
    assert reader.metadata is not None
    assert reader.metadata.creation_date == DRAFTED_AT
    assert reader.metadata.title == f"Délégation de signature {REF}"

    later = render_delegation(sheet_text(drafted_at=DRAFTED_AT + timedelta(days=1)))
    assert later != render_delegation(sheet_text())


def test_render_delegation_passes_qpdf_check(tmp_path: Path) -> None:
    result = qpdf_check(written(tmp_path, sheet_text()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_render_delegation_says_who_delegates_to_whom_within_which_limits(
    tmp_path: Path,
) -> None:
    text = sheet_text()
    extracted = body_text(written(tmp_path, text))

    assert extracted.startswith("Délégation de signature")
    for fact in (REF, "Awa Koné-Diabaté", "09-AWAKD-7Q3M", "dirigeant"):
        assert fact in extracted
    assert "le système d'information d'Atlanta Assurances" in extracted
    assert (
        "J'autorise le système d'information d'Atlanta Assurances à signer en mon "
        "nom, au moyen de mon certificat personnel, les actes décrits ci-dessous, "
        "dans les limites suivantes :"
    ) in extracted
    for sentence in describe(text.envelope, LABELS):
        assert words(sentence) in extracted
    assert "Montant : strictement inférieur à 5 000 000 FCFA." in extracted


def test_render_delegation_states_refusal_revocation_end_and_reference(
    tmp_path: Path,
) -> None:
    extracted = body_text(written(tmp_path, sheet_text()))

    for sentence in (
        "Toute demande de signature qui sort de ces limites est refusée, et une "
        "notification m'en est adressée.",
        "Je peux révoquer cette délégation à tout moment depuis mon espace de "
        "signature ; la révocation prend effet immédiatement.",
        "Sans révocation, elle prend fin d'elle-même à la fin de son dernier jour, "
        "le 30 novembre 2027 à 24:00 (heure d'Abidjan).",
        "Chaque signature apposée en mon nom au titre de cette délégation porte sa "
        f"référence, {REF}.",
        "Établie le 3 décembre 2026 à 14:05 (heure d'Abidjan).",
    ):
        assert sentence in extracted


def test_render_delegation_dates_in_abidjan_whatever_the_envelope_zone(
    tmp_path: Path,
) -> None:
    base = sheet_text()
    text = dataclasses.replace(
        base,
        envelope=dataclasses.replace(base.envelope, time_zone="Europe/Paris"),
        # 23:30 in Abidjan is already the next day in Paris.
        drafted_at=datetime(2026, 12, 3, 23, 30, tzinfo=UTC),
    )
    extracted = body_text(written(tmp_path, text))

    assert "Établie le 3 décembre 2026 à 23:30 (heure d'Abidjan)." in extracted
    assert "le 30 novembre 2027 à 24:00 (fuseau Europe/Paris)." in extracted


def test_render_delegation_elides_de_before_a_vowel(tmp_path: Path) -> None:
    extracted = body_text(written(tmp_path, sheet_text(client_name="Sunu Vie")))
    assert "le système d'information de Sunu Vie" in extracted


def test_render_delegation_writes_french_letters(tmp_path: Path) -> None:
    name = "Adjoua N'Guessan-Kœnig"
    extracted = body_text(written(tmp_path, sheet_text(person_name=name)))
    assert name in extracted


def test_render_delegation_refuses_a_naive_drafting_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        render_delegation(sheet_text(drafted_at=datetime(2026, 12, 3, 14, 5)))


def test_render_delegation_leaves_the_seal_corner_free(tmp_path: Path) -> None:
    path = written(tmp_path, sheet_text())
    assert len(PdfReader(path).pages) == 1
    assert_seal_corner_free(path, tmp_path)


def test_render_delegation_lays_out_a_long_list_of_act_types(tmp_path: Path) -> None:
    text = long_text()
    path = written(tmp_path, text)

    assert len(PdfReader(path).pages) >= 2
    assert qpdf_check(path).returncode == 0
    extracted = body_text(path)
    for sentence in describe(text.envelope, text.act_type_labels):
        assert words(sentence) in extracted
    assert "Établie le 3 décembre 2026 à 14:05 (heure d'Abidjan)." in extracted
    assert_seal_corner_free(path, tmp_path)


def test_render_delegation_numbers_its_pages_in_each_footer(tmp_path: Path) -> None:
    reader = PdfReader(written(tmp_path, long_text()))
    count = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        page_words = words(page.extract_text())
        assert FOOTER in page_words
        assert f"Page {number} / {count}" in page_words
