""" "Évolution": the taux d'atteinte over time, from the nightly snapshots, as SVG charts.

The snapshots hold counts only (fait, à vérifier, à venir, exclu per day and indicator),
so nothing on the page identifies a patient, and the one query parameter, `indicateur`,
is an indicator code. Each chart has its numbers in a table below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fmt_plugin.installation import Installation
from fmt_plugin.rules.pack import RulePack
from fmt_plugin.rules.rates import IndicatorRate
from fmt_plugin.views.french import day, month
from fmt_plugin.web.app import dashboard_of, page
from fmt_plugin.web.charts import Point, Series, line_chart
from fmt_plugin.web.pages.overview import overall_rate
from fmt_plugin.web.sessions import Session

History = Mapping[date, Sequence[IndicatorRate]]
#: The name of the query parameter that picks one indicator.
INDICATOR_PARAM = "indicateur"
OVERALL = "ensemble"


def routes() -> list[BaseRoute]:
    """`/evolution` (optionally `?indicateur=<code>`)."""
    return [Route("/evolution", page(history_page), methods=["GET"])]


@dataclass(frozen=True)
class Chart:
    """One chart of the page: its SVG (or the no-history notice) and its table's rows."""

    code: str
    label: str
    svg: Markup
    rows: tuple[tuple[date, IndicatorRate], ...]


def rates_of(history: History, code: str) -> list[tuple[date, IndicatorRate]]:
    """`code`'s counts on each day of `history` that has them, oldest first."""
    found = []
    for taken in sorted(history):
        for rate in history[taken]:
            if rate.indicator == code:
                found.append((taken, rate))
    return found


def overall_of(
    history: History, codes: Iterable[str]
) -> list[tuple[date, IndicatorRate]]:
    """Each day's counts of the indicators `codes` added (those of another pack left out)."""
    kept = set(codes)
    return [
        (taken, overall_rate(r for r in history[taken] if r.indicator in kept))
        for taken in sorted(history)
    ]


def series(label: str, rows: Sequence[tuple[date, IndicatorRate]]) -> Series:
    """The line of these rows: one point per day, `fait/denominator` in its tooltip."""
    return Series(
        label,
        tuple(
            Point(taken, rate.taux, f"{rate.fait}/{rate.denominator}")
            for taken, rate in rows
        ),
    )


def chart(
    code: str,
    label: str,
    rows: Sequence[tuple[date, IndicatorRate]],
    *,
    small: bool = False,
) -> Chart:
    """The chart of `rows`, described in words for those who cannot see it."""
    svg = line_chart(
        [series(label, rows)],
        title=f"Taux d'atteinte : {label}",
        description=_description(rows),
        chart_id=f"chart-{code}",
        width=360 if small else 760,
        height=200 if small else 320,
    )
    return Chart(code, label, Markup(svg), tuple(rows))  # noqa: S704 -- our own SVG, every text escaped


def _description(rows: Sequence[tuple[date, IndicatorRate]]) -> str:
    known = [(taken, rate) for taken, rate in rows if rate.taux is not None]
    if not known:
        return "Aucun taux connu."
    (first_day, first), (last_day, last) = known[0], known[-1]
    return (
        f"{len(rows)} instantanés, de {month(first_day)} à {month(last_day)} ; "
        f"taux du {day(first_day)} : {first.fait}/{first.denominator}, "
        f"du {day(last_day)} : {last.fait}/{last.denominator}."
    )


def _history(installation: Installation) -> dict[date, list[IndicatorRate]]:
    return installation.store.snapshots.history()


async def history_page(request: Request, session: Session) -> Response:
    """The overall taux over time and one small chart per indicator, or one indicator's."""
    dashboard = dashboard_of(request)
    pack = await dashboard.rule_pack()
    history = await dashboard.backend.run(_history)
    wanted = request.query_params.get(INDICATOR_PARAM, "")
    unknown = bool(wanted) and wanted not in pack.indicator_ids
    chosen = None if unknown or not wanted else wanted
    return dashboard.render(
        request,
        "history/index.html",
        status_code=404 if unknown else 200,
        unknown=unknown,
        chosen=chosen,
        pack=pack,
        days=len(history),
        first_day=min(history) if history else None,
        last_day=max(history) if history else None,
        **_charts(pack, history, chosen),
    )


def _charts(pack: RulePack, history: History, chosen: str | None) -> dict[str, object]:
    if chosen is not None:
        label = pack.indicator(chosen).label
        return {"main": chart(chosen, label, rates_of(history, chosen)), "small": []}
    overall = chart(
        OVERALL, "tous indicateurs", overall_of(history, pack.indicator_ids)
    )
    small = [
        chart(i.id, i.label, rates_of(history, i.id), small=True)
        for i in pack.indicators
    ]
    return {"main": overall, "small": small}
