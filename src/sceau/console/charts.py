"""Bar charts as inline SVG, drawn on the server: the pages carry no script,
and the CSP forbids inline styles, so every attribute is a presentation
attribute. Each chart has a title and a text description for screen
readers, and a table beside it on the page says the same in numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 56
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 40
BAR_COLOUR = "#1f4e79"
TARGET_COLOUR = "#a4262c"
AXIS_COLOUR = "#5c6370"
# Short enough for twelve months side by side on a phone.
MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)


@dataclass(frozen=True)
class Bar:
    label: str
    # None: nothing measured; drawn as an empty slot, said as such.
    value: float | None


def bar_chart(
    title: str,
    bars: Sequence[Bar],
    *,
    unit: str = "",
    target: float | None = None,
    chart_id: str = "graphique",
) -> Markup:
    """Bars from zero, one per label, with an optional target line."""
    values = [bar.value for bar in bars if bar.value is not None]
    top = _nice_ceiling(max([*values, target or 0, 0]))
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_width / max(1, len(bars))
    baseline = MARGIN_TOP + plot_height

    def y_of(value: float) -> float:
        return baseline - (value / top) * plot_height if top else baseline

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{chart_id}-titre {chart_id}-desc" '
        f'id="{chart_id}" class="graphique-svg">',
        f'<title id="{chart_id}-titre">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(_describe(bars, unit, target))}</desc>',
    ]

    # Axis and its two marks: zero and the top of the scale.
    parts.append(
        f'<line x1="{MARGIN_LEFT}" y1="{baseline}" x2="{WIDTH - MARGIN_RIGHT}" '
        f'y2="{baseline}" stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    for value in (0, top):
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y_of(value) + 4:.1f}" '
            f'text-anchor="end" font-size="12" fill="{AXIS_COLOUR}">'
            f"{escape(french_number(value))}</text>"
        )

    # The bars, and each month's label below.
    for index, bar in enumerate(bars):
        x = MARGIN_LEFT + index * slot
        centre = x + slot / 2
        if bar.value is not None:
            y = y_of(bar.value)
            said = f"{bar.label} : {french_number(bar.value)} {unit}"
            parts.append(
                f'<rect x="{x + slot * 0.15:.1f}" y="{y:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{baseline - y:.1f}" '
                f'fill="{BAR_COLOUR}" class="barre"><title>'
                f"{escape(said.strip())}</title></rect>"
            )
        month, year = _ticks(bar.label)
        parts.append(
            f'<text x="{centre:.1f}" y="{baseline + 16}" text-anchor="middle" '
            f'font-size="12" fill="{AXIS_COLOUR}">{escape(month)}</text>'
        )
        if year and (index == 0 or month == MONTHS[0]):
            parts.append(
                f'<text x="{centre:.1f}" y="{baseline + 32}" text-anchor="middle" '
                f'font-size="11" fill="{AXIS_COLOUR}">{escape(year)}</text>'
            )

    if target is not None:
        y = y_of(target)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{WIDTH - MARGIN_RIGHT}" '
            f'y2="{y:.1f}" stroke="{TARGET_COLOUR}" stroke-width="2" '
            f'stroke-dasharray="6 4" class="cible"/>'
        )
    parts.append("</svg>")
    # Every text above went through escape(); the rest is numbers we wrote.
    return Markup("".join(parts))  # noqa: S704


def _ticks(label: str) -> tuple[str, str]:
    """A "YYYY-MM" label as its month's short name and its year; any other
    label as itself."""
    year, _, month = label.partition("-")
    if len(year) == 4 and month.isdigit() and 1 <= int(month) <= 12:
        return MONTHS[int(month) - 1], year
    return label, ""


def _describe(bars: Sequence[Bar], unit: str, target: float | None) -> str:
    said = [
        f"{bar.label} : "
        + (
            f"{french_number(bar.value)} {unit}".strip()
            if bar.value is not None
            else "—"
        )
        for bar in bars
    ]
    if target is not None:
        said.append(f"objectif : {french_number(target)} {unit}".strip())
    return " ; ".join(said) + "."


def french_number(value: float) -> str:
    """A measure as a French reader writes it: 3\u202f000, 99,5."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", "\u202f")
    return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value``: a round top."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 0.1
    while True:
        for step in (1, 2, 2.5, 5, 10):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10
