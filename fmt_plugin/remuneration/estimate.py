"""Compute the FMT remuneration of year N: forfait socle, its majoration, majoration prévention.

Pure: the grid, the roster, the doctor's situation, the year and the evaluation's potentiel FMT
come in as arguments, amounts and dates go out. No clock, no store, no hooks.

The situation that decides the socle of year N is the one at 31/12 of N-1 (`reference_day`):
the patient's completed age that day, their ALD and C2S. The roster does not date ALDs or the
C2S, so the current roster stands for that day unless `PatientSituation.ald_since` says when
the ALD started.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from fmt_plugin.config import DoctorSituation
from fmt_plugin.errors import ConfigError
from fmt_plugin.model import Patient
from fmt_plugin.remuneration.grid import Majoration, RemunerationGrid, SocleBand
from fmt_plugin.rules.dates import add_months, completed_years
from fmt_plugin.rules.rates import FmtPotential

CENT = Decimal("0.01")


def reference_day(year: int) -> date:
    """31/12 of the year before `year`: the day whose situation sets the socle of `year`."""
    return date(year - 1, 12, 31)


@dataclass(frozen=True)
class PatientSituation:
    """What the socle band depends on; `ald_since` None: the ALD's start is not known."""

    patient_id: str
    birth_date: date | None
    ald: bool
    c2s: bool
    ald_since: date | None = None

    @classmethod
    def of(cls, patient: Patient) -> PatientSituation:
        """The situation the roster gives (ALD and C2S as they are today)."""
        return cls(
            patient.patient_id, patient.birth_date, bool(patient.ald), patient.c2s
        )


@dataclass(frozen=True)
class SocleLine:
    """One patient's forfait socle of year N; `band` None: no socle, and `no_socle` says
    why (`unknown_birth_date`, or `born_after` 31/12/N-1)."""

    patient_id: str
    age: int | None
    ald: bool
    c2s: bool
    band: SocleBand | None
    amount: Decimal
    no_socle: str = ""


def socle_line(
    grid: RemunerationGrid, situation: PatientSituation, year: int
) -> SocleLine:
    """The patient's band and amount for `year`, from their situation at 31/12 of N-1."""
    day = reference_day(year)
    ald = situation.ald and (situation.ald_since is None or situation.ald_since <= day)
    birth = situation.birth_date
    if birth is None or birth > day:
        why = "unknown_birth_date" if birth is None else "born_after"
        return SocleLine(
            situation.patient_id, None, ald, situation.c2s, None, Decimal(0), why
        )
    age = completed_years(birth, day)
    band = grid.band_of(age=age, ald=ald)
    amount = band.amount + (grid.c2s_supplement if situation.c2s else Decimal(0))
    return SocleLine(situation.patient_id, age, ald, situation.c2s, band, amount)


def majoration_of(
    grid: RemunerationGrid, doctor: DoctorSituation, year: int
) -> Majoration | None:
    """The one majoration of the socle that applies in `year` (the highest; on a tie, a
    confirmed one first, then the grid's order), or None."""
    applicable = [m for m in grid.majorations if _applies(m, doctor, year)]
    if not applicable:
        return None
    return max(applicable, key=lambda m: (m.percent, m.confirmed))


def installation_year(doctor: DoctorSituation, year: int) -> int | None:
    """Which year after the primo-installation `year` is (1: the calendar year after it)."""
    installed = doctor.primo_installation_date
    if installed is None or year <= installed.year:
        return None
    return year - installed.year


def doctor_age(doctor: DoctorSituation, year: int) -> int | None:
    """The doctor's completed age at 31/12 of N-1, when their birth date is given."""
    birth = doctor.doctor_birth_date
    return None if birth is None else completed_years(birth, reference_day(year))


def _applies(majoration: Majoration, doctor: DoctorSituation, year: int) -> bool:
    if majoration.kind == "doctor_age":
        age = doctor_age(doctor, year)
        return (
            age is not None
            and majoration.min_age is not None
            and age >= majoration.min_age
        )
    if doctor.zone not in majoration.zones:
        return False
    if majoration.kind == "primo_installation":
        return installation_year(doctor, year) == majoration.installation_year
    return True


@dataclass(frozen=True)
class Payment:
    """One payment of the calendar: what, for which period (first and last day), how much.

    `possible` is what the payment could reach if every `à vérifier` were done (prévention).
    """

    component: str
    first_day: date
    last_day: date
    amount: Decimal
    possible: Decimal | None = None

    def is_past(self, as_of: date) -> bool:
        """True once the whole period is over on `as_of`."""
        return self.last_day < as_of


@dataclass(frozen=True)
class RemunerationEstimate:
    """The FMT remuneration of `year`, estimated with the statuses at `evaluated_on`."""

    year: int
    evaluated_on: date
    grid: RemunerationGrid
    lines: tuple[SocleLine, ...]
    majoration: Majoration | None
    prevention: FmtPotential

    @property
    def socle(self) -> Decimal:
        """The forfait socle of the year, every patient's amount added."""
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def socle_majoration(self) -> Decimal:
        """The majoration of the socle, rounded to the cent."""
        if self.majoration is None:
            return Decimal(0)
        return _cents(self.socle * self.majoration.percent / 100)

    @property
    def prevention_earned(self) -> Decimal:
        """Fee × indicators `fait`: the majoration prévention earned so far."""
        return Decimal(self.prevention.earned_eur)

    @property
    def prevention_possible(self) -> Decimal:
        """Fee × indicators `à vérifier`: what doing every one of them would add."""
        return Decimal(self.prevention.missed_eur)

    @property
    def total(self) -> Decimal:
        """Socle, its majoration and the prévention earned so far."""
        return self.socle + self.socle_majoration + self.prevention_earned

    @property
    def payments(self) -> tuple[Payment, ...]:
        """The socle (with its majoration) in equal parts, then the prévention in N+1."""
        months = self.grid.socle_payment_months
        parts = _split(self.socle + self.socle_majoration, len(months))
        socle = tuple(
            Payment("socle", *_month(self.year, month), part)
            for month, part in zip(months, parts, strict=True)
        )
        paid_in = self.year + self.grid.prevention_year_offset
        first, last = self.grid.prevention_months
        prevention = Payment(
            "prevention",
            _month(paid_in, first)[0],
            _month(paid_in, last)[1],
            self.prevention_earned,
            self.prevention_earned + self.prevention_possible,
        )
        return (*socle, prevention)


def estimate(
    grid: RemunerationGrid,
    situations: Iterable[PatientSituation],
    doctor: DoctorSituation,
    year: int,
    *,
    prevention: FmtPotential,
    evaluated_on: date,
) -> RemunerationEstimate:
    """The remuneration of `year` for these patients; `prevention` is the potentiel FMT of
    the evaluation at `evaluated_on` (a day of `year`)."""
    lines = tuple(socle_line(grid, situation, year) for situation in situations)
    return RemunerationEstimate(
        year=year,
        evaluated_on=evaluated_on,
        grid=grid,
        lines=lines,
        majoration=majoration_of(grid, doctor, year),
        prevention=prevention,
    )


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _split(amount: Decimal, parts: int) -> list[Decimal]:
    """`parts` amounts to the cent that add up to `amount`, the last one taking the rest."""
    share = _cents(amount / parts)
    return [share] * (parts - 1) + [amount - share * (parts - 1)]


def _month(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    return first, add_months(first, 1) - timedelta(days=1)


class YearError(ConfigError):
    """`--year` names a year the estimate cannot be made for."""


def evaluation_day(grid: RemunerationGrid, year: int, as_of: date) -> date:
    """The day whose statuses count as "validated in `year`": `as_of` within the year, the
    year's last day for a past year. A future year, or one the grid does not pay, is refused.

    amelipro's exact year-end rule is not public: an indicator counts for year N when it is
    `fait` on this day.
    """
    if year < grid.first_year:
        raise YearError(
            f"la grille {grid.id} ne s'applique qu'à partir de {grid.first_year}",
            key="--year",
            expected=f"une année de {grid.first_year} à {as_of.year}",
        )
    if year > as_of.year:
        raise YearError(
            f"année {year} postérieure à la date d'estimation ({as_of.year})",
            key="--year",
            expected=f"une année de {grid.first_year} à {as_of.year}",
        )
    return as_of if year == as_of.year else date(year, 12, 31)
