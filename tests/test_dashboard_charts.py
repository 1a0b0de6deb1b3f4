"""The "Évolution" page's SVG line charts (fmt_plugin.web.charts), without a browser."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from fmt_plugin.rules.rates import IndicatorRate
from fmt_plugin.web.charts import NO_HISTORY, Point, Series, line_chart, month_label
from fmt_plugin.web.pages.history import overall_of, rates_of, series

SVG = "{http://www.w3.org/2000/svg}"


def month_ends(count: int, start: date = date(2023, 12, 31)) -> list[date]:
    """`count` month ends from `start`'s month: the demo back-fills one per month."""
    days = []
    year, month = start.year, start.month
    for _ in range(count):
        following = date(year + month // 12, month % 12 + 1, 1)
        days.append(date.fromordinal(following.toordinal() - 1))
        year, month = following.year, following.month
    return days


def draw(*lines: Series, width: int = 720) -> ET.Element:
    svg = line_chart(
        lines, title="Taux", description="Essai", chart_id="essai", width=width
    )
    return ET.fromstring(svg)  # noqa: S314 -- our own SVG, the thing under test


def points_of(path: ET.Element) -> list[tuple[float, float]]:
    return [
        tuple(float(v) for v in command[1:].split(","))
        for command in path.get("d", "").split()
    ]


def test_the_chart_is_well_formed_svg_with_its_title_and_description():
    """The SVG parses as XML and names itself for screen readers."""
    root = draw(Series("Dépistage", (Point(date(2026, 1, 31), 0.4),)))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "essai-title essai-desc"
    assert root.find(f"{SVG}title").text == "Taux"
    assert root.find(f"{SVG}desc").text == "Essai"


def test_each_series_is_one_path_with_one_point_per_known_taux():
    """Two series of 36 month ends give two paths of 36 points, and 36 markers each."""
    days = month_ends(36)
    one = Series("A", tuple(Point(d, i / 40) for i, d in enumerate(days)))
    two = Series("B", tuple(Point(d, 0.9) for d in days))
    root = draw(one, two)
    paths = root.findall(f".//{SVG}g[@class='series']/{SVG}path")
    assert len(paths) == 2
    assert [len(points_of(p)) for p in paths] == [36, 36]
    assert len(root.findall(f".//{SVG}circle")) == 72


def test_a_day_without_taux_breaks_the_line_and_draws_no_point():
    """A day nobody counted starts a new segment (`M`) instead of joining its neighbours."""
    days = month_ends(3)
    root = draw(
        Series("A", (Point(days[0], 0.2), Point(days[1], None), Point(days[2], 0.3)))
    )
    path = root.find(f".//{SVG}path")
    assert [c[0] for c in path.get("d").split()] == ["M", "M"]
    assert len(root.findall(f".//{SVG}circle")) == 2


def test_fifty_percent_is_the_middle_of_the_vertical_axis():
    """0 % sits on the x axis, 100 % at the top, 50 % exactly half-way."""
    days = month_ends(3)
    root = draw(
        Series("A", tuple(Point(d, t) for d, t in zip(days, (0, 0.5, 1), strict=True)))
    )
    axis = root.find(f".//{SVG}g[@class='axis y-axis']/{SVG}line[@class='axis-line']")
    top, bottom = float(axis.get("y1")), float(axis.get("y2"))
    ys = [y for _, y in points_of(root.find(f".//{SVG}path"))]
    assert ys == [bottom, (top + bottom) / 2, top]


def test_the_months_under_the_axis_are_french():
    """Over three years: `janv. 2024`, `juil. 2024`…, French abbreviations every 6 months."""
    root = draw(Series("A", tuple(Point(d, 0.5) for d in month_ends(36))))
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "month"]
    assert labels == [
        "janv. 2024",
        "juil. 2024",
        "janv. 2025",
        "juil. 2025",
        "janv. 2026",
        "juil. 2026",
    ]
    assert month_label(date(2026, 12, 1)) == "déc. 2026"
    assert month_label(date(2026, 2, 1)) == "févr. 2026"


def test_a_small_chart_labels_fewer_months():
    """A small multiple keeps its labels apart: one a year over three years."""
    root = draw(Series("A", tuple(Point(d, 0.5) for d in month_ends(36))), width=360)
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "month"]
    assert labels == ["janv. 2024", "janv. 2025", "janv. 2026"]


def test_an_empty_history_says_so_in_french_instead_of_a_chart():
    """No snapshot yet: a notice "pas encore d'historique", no SVG."""
    for lines in (
        [],
        [Series("A", ())],
        [Series("A", (Point(date(2026, 1, 1), None),))],
    ):
        html = line_chart(lines, title="Taux", description="", chart_id="vide")
        assert "<svg" not in html
        assert "pas encore d'historique" in html.lower()
        assert NO_HISTORY in html.replace("&#x27;", "'")


def test_texts_are_escaped_in_the_svg():
    """A label with `<` or `&` keeps the SVG well-formed."""
    root = draw(Series("A & <b>", (Point(date(2026, 1, 31), 0.5, "1/2"),)))
    tip = root.find(f".//{SVG}circle/{SVG}title").text
    assert tip == "A & <b>, 31/01/2026 : 50,0 % (1/2)"


def test_the_history_series_and_the_overall_taux_come_from_the_snapshot_counts():
    """Per indicator: its taux each day; overall: the counts of the pack's indicators added."""
    history = {
        date(2026, 1, 31): [
            IndicatorRate("dep_sein", fait=1, a_verifier=3),
            IndicatorRate("vacc_grippe", fait=3, a_verifier=1),
            IndicatorRate("ancien", fait=10, a_verifier=0),
        ],
        date(2026, 2, 28): [IndicatorRate("vacc_grippe", fait=2, a_verifier=2)],
    }
    sein = series("Sein", rates_of(history, "dep_sein"))
    assert [(p.day, p.taux, p.detail) for p in sein.points] == [
        (date(2026, 1, 31), 0.25, "1/4")
    ]
    overall = overall_of(history, ("dep_sein", "vacc_grippe"))
    assert [(d, r.fait, r.denominator) for d, r in overall] == [
        (date(2026, 1, 31), 4, 8),
        (date(2026, 2, 28), 2, 4),
    ]
