"""The remuneration of a year: totals, the payment calendar, the year the statuses count for."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from fmt_plugin.config import DoctorSituation
from fmt_plugin.remuneration.estimate import (
    PatientSituation,
    YearError,
    estimate,
    evaluation_day,
)
from fmt_plugin.remuneration.grid import (
    GridError,
    default_grid_source,
    load_default_grid,
    load_grid,
)
from fmt_plugin.rules.rates import FmtPotential

GRID = load_default_grid()
#: 5 € (adult) + 55 € (ALD) + 15 € (child) + 110 € (ALD 80+, C2S) = 185 €.
ROSTER = (
    PatientSituation("P1", date(1980, 1, 1), ald=False, c2s=False),
    PatientSituation("P2", date(1960, 1, 1), ald=True, c2s=False),
    PatientSituation("P3", date(2022, 1, 1), ald=False, c2s=False),
    PatientSituation("P4", date(1935, 1, 1), ald=True, c2s=True),
)
NO_PREVENTION = FmtPotential(fait=0, a_verifier=0, fee_eur=5)
NO_MAJORATION = DoctorSituation()


def estimate_2026(
    doctor: DoctorSituation = NO_MAJORATION,
    prevention: FmtPotential = NO_PREVENTION,
):
    return estimate(
        GRID,
        ROSTER,
        doctor,
        2026,
        prevention=prevention,
        evaluated_on=date(2026, 5, 1),
    )


def test_socle_adds_every_patients_amount():
    """The socle of the year is the sum of the patients' amounts."""
    assert estimate_2026().socle == Decimal(185)


def test_majoration_is_a_percentage_of_the_whole_socle_to_the_cent():
    """+10 % in ZIP on 185 € is 18,50 €."""
    assert estimate_2026(DoctorSituation(zone="zip")).socle_majoration == Decimal(
        "18.50"
    )


def test_socle_and_majoration_are_paid_in_four_parts_adding_up_to_the_total():
    """185 € + 50 % = 277,50 €: 69,38 € thrice, then 69,36 €, in April, June, September,
    November of N."""
    doctor = DoctorSituation(zone="zip", primo_installation_date=date(2025, 3, 1))
    socle = [p for p in estimate_2026(doctor).payments if p.component == "socle"]
    assert [(p.first_day.month, p.amount) for p in socle] == [
        (4, Decimal("69.38")),
        (6, Decimal("69.38")),
        (9, Decimal("69.38")),
        (11, Decimal("69.36")),
    ]


def test_prevention_is_paid_in_the_first_half_of_the_next_year():
    """12 indicators fait and 3 à vérifier: 60 € earned, up to 75 €, January–June N+1."""
    prevention = FmtPotential(fait=12, a_verifier=3, fee_eur=5)
    payment = estimate_2026(prevention=prevention).payments[-1]
    assert (payment.first_day, payment.last_day, payment.amount, payment.possible) == (
        date(2027, 1, 1),
        date(2027, 6, 30),
        Decimal(60),
        Decimal(75),
    )


def test_total_is_socle_majoration_and_prevention_earned():
    """185 € + 18,50 € + 60 € = 263,50 € (the à vérifier are not counted)."""
    prevention = FmtPotential(fait=12, a_verifier=3, fee_eur=5)
    total = estimate_2026(DoctorSituation(zone="qpv"), prevention).total
    assert total == Decimal("263.50")


def test_statuses_of_the_current_year_are_those_of_the_estimate_date():
    """Within year N, the indicators validated are those `fait` on the date asked."""
    assert evaluation_day(GRID, 2026, date(2026, 5, 1)) == date(2026, 5, 1)


def test_statuses_of_a_past_year_are_those_of_its_last_day():
    """For a past year, the indicators validated are those `fait` on 31/12/N."""
    assert evaluation_day(GRID, 2026, date(2027, 2, 1)) == date(2026, 12, 31)


@pytest.mark.parametrize("year", [2025, 2027])
def test_year_before_the_grid_or_after_the_date_is_refused(year):
    """A year the grid does not pay, or a future one, is a YearError on --year."""
    with pytest.raises(YearError) as caught:
        evaluation_day(GRID, year, date(2026, 5, 1))
    assert caught.value.key == "--year"


def test_grid_with_overlapping_bands_names_the_key(tmp_path: Path):
    """A grid in which 7 year-olds fall in two bands is a GridError on socle.bands."""
    text = default_grid_source().read_text(encoding="utf-8")
    bad = tmp_path / "grid.toml"
    bad.write_text(text.replace("max_age = 6\n", "max_age = 7\n", 1), encoding="utf-8")
    with pytest.raises(GridError, match="7 ans sans ALD") as caught:
        load_grid(bad)
    assert (caught.value.path, caught.value.key) == (bad, "socle.bands")


def test_grid_missing_a_key_names_it(tmp_path: Path):
    """A majoration without its `percent` (a typo) is a GridError naming the dotted key."""
    text = default_grid_source().read_text(encoding="utf-8")
    bad = tmp_path / "grid.toml"
    bad.write_text(text.replace("percent = 50", "pourcent = 50"), encoding="utf-8")
    with pytest.raises(GridError) as caught:
        load_grid(bad)
    assert caught.value.key == "majorations[1].percent"


def test_shipped_grid_marks_the_year_3_primo_installation_unconfirmed():
    """The +10 % of a primo-installation's 3rd year is flagged as unconfirmed."""
    unconfirmed = [(m.id, m.percent) for m in GRID.majorations if not m.confirmed]
    assert unconfirmed == [("primo_installation_3", 10)]


@pytest.mark.parametrize(
    ("birth_date", "why"),
    [(None, "unknown_birth_date"), (date(2026, 1, 1), "born_after")],
)
def test_patient_without_socle_says_why(birth_date, why):
    """No birth date, or born after 31/12/N-1: no socle, and the line says which."""
    situation = PatientSituation("P9", birth_date, ald=False, c2s=False)
    line = estimate(
        GRID,
        [situation],
        NO_MAJORATION,
        2026,
        prevention=NO_PREVENTION,
        evaluated_on=date(2026, 5, 1),
    ).lines[0]
    assert (line.amount, line.no_socle) == (Decimal(0), why)
