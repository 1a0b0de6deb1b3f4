""" "Rémunération": the FMT remuneration estimate of the year, as `fmt-plugin remuneration`.

The same estimate as the command (`remuneration.estimate`), rendered as French tables: the
forfait socle by band, its majoration, the majoration prévention and the payment calendar.
The command evaluates the practice; the page takes the prévention part from the statuses
the service remembers (the dashboard's read model), so opening it evaluates nobody. The
socle needs each patient's age, ALD and C2S, which the read model does not keep: they are
read from the roster on the dashboard's thread. Patients appear as counts only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fmt_plugin.config import DoctorSituation
from fmt_plugin.installation import Installation
from fmt_plugin.remuneration.estimate import (
    RemunerationEstimate,
    YearError,
    estimate,
    evaluation_day,
    reference_day,
)
from fmt_plugin.remuneration.grid import load_default_grid
from fmt_plugin.rules.rates import FmtPotential, fmt_potential
from fmt_plugin.storage.statuses import StatusCoverage
from fmt_plugin.views.remuneration import (
    COMPONENT_LABELS,
    PAYMENT_LABELS,
    band_totals,
    components,
    majoration_label,
    notes,
    payment_period,
)
from fmt_plugin.web.app import dashboard_of, page
from fmt_plugin.web.sessions import Session


def routes() -> list[BaseRoute]:
    """`/remuneration`."""
    return [Route("/remuneration", page(remuneration_page), methods=["GET"])]


@dataclass(frozen=True)
class ComponentRow:
    """One line of the components table; `possible` None: not a prévention line."""

    label: str
    earned: Decimal
    possible: Decimal | None
    when: str


@dataclass(frozen=True)
class PaymentRow:
    """One payment of the calendar; `possible` set when it could reach more."""

    period: str
    amount: Decimal
    possible: Decimal | None
    component: str
    past: bool


@dataclass(frozen=True)
class RemunerationPage:
    """What the page shows, every amount computed by the estimate."""

    estimate: RemunerationEstimate
    as_of: date
    majoration: str
    components: tuple[ComponentRow, ...]
    payments: tuple[PaymentRow, ...]
    bands: tuple[tuple[str, int, Decimal], ...]
    situation_on: date
    notes: tuple[str, ...]


def remuneration_page_data(
    result: RemunerationEstimate, as_of: date
) -> RemunerationPage:
    """The estimate's tables, with the labels and periods the command's table uses."""
    rows = tuple(
        ComponentRow(
            COMPONENT_LABELS[component],
            earned,
            possible if component == "prevention" else None,
            when,
        )
        for component, earned, possible, when in components(result)
    )
    payments = tuple(
        PaymentRow(
            payment_period(p),
            p.amount,
            p.possible if p.possible is not None and p.possible != p.amount else None,
            PAYMENT_LABELS[p.component],
            p.is_past(as_of),
        )
        for p in result.payments
    )
    return RemunerationPage(
        estimate=result,
        as_of=as_of,
        majoration=majoration_label(result),
        components=rows,
        payments=payments,
        bands=tuple(band_totals(result)),
        situation_on=reference_day(result.year),
        notes=tuple(notes(result)),
    )


@dataclass(frozen=True)
class _Roster:
    doctor: DoctorSituation
    coverage: StatusCoverage


def _roster(installation: Installation) -> _Roster:
    return _Roster(
        installation.config.practice.doctor_situation,
        installation.store.statuses.coverage(),
    )


async def remuneration_page(request: Request, session: Session) -> Response:
    """The year's estimate: socle, majoration, prévention and the calendar."""
    dashboard = dashboard_of(request)
    as_of = dashboard.clock().date()
    grid = load_default_grid()
    try:
        evaluation_day(grid, as_of.year, as_of)
    except YearError as exc:
        return dashboard.render(
            request,
            "remuneration/index.html",
            data=None,
            error=str(exc),
            not_evaluated=0,
        )
    pack = await dashboard.rule_pack()
    roster = await dashboard.backend.run(_roster)
    # The patients as the read model holds them: the roster is not decrypted per view.
    listing = await dashboard.listing()
    situations = tuple(patient.situation for patient in listing.patients())
    prevention: FmtPotential = fmt_potential(pack, listing.rates(pack).values())
    result = listing.memo(
        ("remuneration", as_of, roster.doctor, prevention, roster.coverage),
        lambda: estimate(
            grid,
            situations,
            roster.doctor,
            as_of.year,
            prevention=prevention,
            # The statuses counted are those of the service's last evaluation.
            evaluated_on=roster.coverage.newest or as_of,
        ),
    )
    return dashboard.render(
        request,
        "remuneration/index.html",
        data=remuneration_page_data(result, as_of),
        error=None,
        not_evaluated=max(len(situations) - roster.coverage.patients, 0),
    )
