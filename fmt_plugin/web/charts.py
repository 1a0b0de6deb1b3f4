"""Line charts of taux d'atteinte as inline SVG: dates across, 0–100 % up; pure, no I/O.

Drawn on the server so the "Évolution" page needs no script and no chart library: the
browser shows the SVG as it shows the rest of the page, prints it, and screen readers read
its `<title>` and `<desc>` (the page puts the same numbers in a table under each chart).
Only presentation attributes are used (`stroke=`, never `style=`): the dashboard's CSP
forbids inline styles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape, quoteattr

from fmt_plugin.views.french import day, percent

#: French abbreviations of the months, as a calendar prints them under its columns.
MONTH_ABBREVIATIONS = (
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
#: Colours told apart by people with the common colour-vision deficiencies (Okabe–Ito).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
NO_HISTORY = (
    "Pas encore d'historique des taux : le service en garde un instantané chaque nuit, "
    "la courbe apparaîtra après le premier."
)
#: At most this many month labels under the axis; the other months get a tick only.
MAX_MONTH_LABELS = 8
#: Months between two labels: calendar steps, so the labels fall on janvier, juillet…
LABEL_STEPS = (1, 2, 3, 6, 12, 24, 60)


@dataclass(frozen=True)
class Point:
    """One taux on one day; `taux` None when nobody counted (no point drawn)."""

    day: date
    taux: float | None
    #: What the point's tooltip adds after the taux, e.g. `77/150`.
    detail: str = ""


@dataclass(frozen=True)
class Series:
    """One line of a chart: a name for the legend and its points, oldest first."""

    name: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Frame:
    """Where the plot area sits in the SVG (pixels), and the days it spans."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    first: date
    last: date

    @property
    def plot_left(self) -> int:
        return self.left

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_top(self) -> int:
        return self.top

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom

    def x(self, when: date) -> float:
        """The abscissa of `when`; a single day sits in the middle."""
        span = (self.last - self.first).days
        if span == 0:
            return (self.plot_left + self.plot_right) / 2
        share = (when - self.first).days / span
        return self.plot_left + share * (self.plot_right - self.plot_left)

    def y(self, taux: float) -> float:
        """The ordinate of a taux between 0 and 1 (0 % at the bottom)."""
        return self.plot_bottom - taux * (self.plot_bottom - self.plot_top)


def month_starts(first: date, last: date) -> list[date]:
    """The first day of every month from `first`'s month to `last`'s, both included."""
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_label(when: date) -> str:
    """`janv. 2026`: a month under the axis."""
    return f"{MONTH_ABBREVIATIONS[when.month - 1]} {when.year}"


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    chart_id: str,
    width: int = 720,
    height: int = 300,
) -> str:
    """An SVG line chart of `series` (one `<path>` each), or a French notice without data.

    `chart_id` makes the ids of `<title>` and `<desc>` unique in the page.
    """
    days = [p.day for s in series for p in s.points if p.taux is not None]
    if not days:
        return f'<p class="notice no-history">{escape(NO_HISTORY)}</p>'
    compact = width < 400
    frame = Frame(
        width=width,
        height=height,
        left=44,
        right=12,
        top=12,
        bottom=30,
        first=min(days),
        last=max(days),
    )
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="line-chart" role="img"'
            f' viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
            f' aria-labelledby="{chart_id}-title {chart_id}-desc">'
        ),
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        *_y_axis(frame),
        *_x_axis(frame, compact=compact),
    ]
    for index, line in enumerate(series):
        parts += _series(frame, line, PALETTE[index % len(PALETTE)], index)
    parts.append("</svg>")
    return "\n".join(parts)


def _y_axis(frame: Frame) -> list[str]:
    parts = ['<g class="axis y-axis" font-size="11" fill="#5b6472">']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = _fmt(frame.y(tick))
        parts.append(
            f'<line class="grid" x1="{frame.plot_left}" x2="{frame.plot_right}"'
            f' y1="{y}" y2="{y}" stroke="#d9dee5"/>'
        )
        parts.append(
            f'<text x="{frame.plot_left - 6}" y="{y}" text-anchor="end"'
            f' dominant-baseline="middle">{int(tick * 100)}\u202f%</text>'
        )
    parts.append(
        f'<line class="axis-line" x1="{frame.plot_left}" x2="{frame.plot_left}"'
        f' y1="{frame.plot_top}" y2="{frame.plot_bottom}" stroke="#1d2430"/>'
    )
    parts.append("</g>")
    return parts


def _x_axis(frame: Frame, *, compact: bool) -> list[str]:
    months = [m for m in month_starts(frame.first, frame.last) if m >= frame.first]
    if not months:  # a history within one month: label that month at its first day
        months = [frame.first]
    most = MAX_MONTH_LABELS // 2 if compact else MAX_MONTH_LABELS
    step = next((s for s in LABEL_STEPS if -(-len(months) // s) <= most), 120)
    bottom = frame.plot_bottom
    parts = [
        '<g class="axis x-axis" font-size="11" fill="#5b6472">',
        (
            f'<line class="axis-line" x1="{frame.plot_left}" x2="{frame.plot_right}"'
            f' y1="{bottom}" y2="{bottom}" stroke="#1d2430"/>'
        ),
    ]
    for month in months:
        x = _fmt(frame.x(month))
        labelled = _labelled(month, step) if len(months) > 1 else True
        parts.append(
            f'<line class="tick" x1="{x}" x2="{x}" y1="{bottom}"'
            f' y2="{bottom + (6 if labelled else 3)}" stroke="#1d2430"/>'
        )
        if labelled:
            parts.append(
                f'<text class="month" x="{x}" y="{bottom + 18}"'
                f' text-anchor="middle">{escape(month_label(month))}</text>'
            )
    parts.append("</g>")
    return parts


def _labelled(month: date, step: int) -> bool:
    """True for the months a `step`-month axis labels (January always, when it is one)."""
    months_since_epoch = month.year * 12 + month.month - 1
    return months_since_epoch % step == 0


def _series(frame: Frame, line: Series, colour: str, index: int) -> list[str]:
    """The path (a new `M` after a day without taux) and a marker per point."""
    commands = []
    pen_down = False
    markers = []
    for point in line.points:
        if point.taux is None:
            pen_down = False
            continue
        x, y = _fmt(frame.x(point.day)), _fmt(frame.y(point.taux))
        commands.append(f"{'L' if pen_down else 'M'}{x},{y}")
        pen_down = True
        tip = f"{day(point.day)} : {percent(point.taux)}"
        if point.detail:
            tip += f" ({point.detail})"
        markers.append(
            f'<circle class="point" cx="{x}" cy="{y}" r="2.5" fill="{colour}">'
            f"<title>{escape(line.name)}, {escape(tip)}</title></circle>"
        )
    return [
        f'<g class="series" data-series="{index}" data-name={quoteattr(line.name)}>',
        (
            f'<path d="{" ".join(commands)}" fill="none" stroke="{colour}"'
            f' stroke-width="2" stroke-linejoin="round"/>'
        ),
        *markers,
        "</g>",
    ]
