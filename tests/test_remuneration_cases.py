"""The forfait socle and its majorations, one parametrized test per case file.

Each case of tests/remuneration_cases/*.toml is a patient's (or the doctor's) situation, a year
and the expected result under the shipped grid `fmt-2026-remuneration`.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fmt_plugin.config import DoctorSituation
from fmt_plugin.remuneration.estimate import (
    PatientSituation,
    majoration_of,
    socle_line,
)
from fmt_plugin.remuneration.grid import load_default_grid

CASES = Path(__file__).parent / "remuneration_cases"
GRID = load_default_grid()


def cases(name: str) -> list[Any]:
    data = tomllib.loads((CASES / f"{name}.toml").read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["name"]) for case in data["case"]]


@pytest.mark.parametrize("case", cases("socle"))
def test_socle_case(case: dict[str, Any]) -> None:
    """The patient's band and amount are the case's."""
    situation = PatientSituation(
        patient_id="P1",
        birth_date=case.get("birth_date"),
        ald=case.get("ald", False),
        c2s=case.get("c2s", False),
        ald_since=case.get("ald_since"),
    )
    line = socle_line(GRID, situation, case["year"])
    band = line.band.id if line.band else "none"
    assert (band, line.amount) == (case["band"], Decimal(case["amount"]))


@pytest.mark.parametrize("case", cases("majorations"))
def test_majoration_case(case: dict[str, Any]) -> None:
    """The one majoration that applies, and its percent, are the case's."""
    doctor = DoctorSituation(
        zone=case.get("zone", "aucune"),
        primo_installation_date=case.get("primo_installation_date"),
        doctor_birth_date=case.get("doctor_birth_date"),
    )
    found = majoration_of(GRID, doctor, case["year"])
    result = (found.id, found.percent) if found else ("none", 0)
    assert result == (case["majoration"], case["percent"])
