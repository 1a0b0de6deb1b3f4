"""The home page: the 15 indicators at a glance, from the statuses the service remembers.

The page counts the dashboard's read model (`PracticeListing`), never evaluates the
practice: the statuses are kept current by the service, and a practice of 20,000 patients
must not wait for an evaluation each time a user opens the dashboard. It shows counts and
euros only: nothing that identifies a patient.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fmt_plugin.installation import Installation
from fmt_plugin.rules.pack import RulePack
from fmt_plugin.rules.rates import FmtPotential, IndicatorRate, fmt_potential
from fmt_plugin.storage.statuses import StatusCoverage
from fmt_plugin.web.app import dashboard_of, page
from fmt_plugin.web.sessions import Session


def routes() -> list[BaseRoute]:
    """`/`: the dashboard's home page."""
    return [Route("/", page(overview_page), methods=["GET"])]


@dataclass(frozen=True)
class IndicatorLine:
    """One indicator's row: its counts, and what its `fait` pay and its `à vérifier` could."""

    code: str
    label: str
    rate: IndicatorRate
    earned_eur: int
    possible_eur: int


@dataclass(frozen=True)
class Overview:
    """What the home page shows."""

    lines: tuple[IndicatorLine, ...]
    #: Every indicator's counts added: the practice's taux over all of them.
    overall: IndicatorRate
    potential: FmtPotential
    coverage: StatusCoverage
    #: Active patients: those of `coverage` and those never evaluated yet.
    active_patients: int

    @property
    def not_evaluated(self) -> int:
        """Active patients without remembered statuses (they count nowhere yet)."""
        return max(self.active_patients - self.coverage.patients, 0)


def overview(
    pack: RulePack,
    rates: Mapping[str, IndicatorRate],
    coverage: StatusCoverage,
    active_patients: int,
) -> Overview:
    """The lines in the pack's order, the overall counts and the potentiel FMT."""
    lines = []
    for code, rate in rates.items():
        one = fmt_potential(pack, [rate])
        lines.append(
            IndicatorLine(
                code,
                pack.indicator(code).label,
                rate,
                one.earned_eur,
                one.missed_eur,
            )
        )
    return Overview(
        lines=tuple(lines),
        overall=overall_rate(rates.values()),
        potential=fmt_potential(pack, rates.values()),
        coverage=coverage,
        active_patients=active_patients,
    )


def overall_rate(rates: Iterable[IndicatorRate]) -> IndicatorRate:
    """The counts of every indicator added, as one rate (`ensemble`)."""
    fields = ("fait", "a_verifier", "a_venir", "exclu", "hors_fmt", "rattrapage")
    totals = dict.fromkeys(fields, 0)
    for rate in rates:
        for name in fields:
            totals[name] += getattr(rate, name)
    return IndicatorRate("ensemble", **totals)


def _coverage(installation: Installation) -> StatusCoverage:
    return installation.store.statuses.coverage()


async def overview_page(request: Request, session: Session) -> Response:
    """ "Tableau de bord": taux, numerator and denominator, counts and euros per indicator."""
    dashboard = dashboard_of(request)
    pack = await dashboard.rule_pack()
    coverage = await dashboard.backend.run(_coverage)
    listing = await dashboard.listing()
    # Counted right away: the next `await` could refresh the listing under us.
    shown = overview(pack, listing.rates(pack), coverage, len(listing))
    return dashboard.render(
        request,
        "overview/index.html",
        overview=shown,
        pack=pack,
        fee_eur=pack.fee_per_indicator_eur,
    )
