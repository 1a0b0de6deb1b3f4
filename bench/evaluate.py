"""Benchmark of the rules engine: evaluate a synthetic practice and report speed and memory.

Run from the repository root: `python bench/evaluate.py [--patients N] [--seed S] [--json]`.
The practice is drawn with `random.Random(seed)`, so a run is reproducible: same seed, same
patients, same events. Generation is timed apart from evaluation; memory is traced in its own
pass because tracemalloc slows Python down several times. See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import math
import os
import platform
import pstats
import random
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Generic, TypeVar

from fmt_plugin.model import Patient, Sex
from fmt_plugin.rules import (
    Evidence,
    EvidenceSource,
    Override,
    OverrideKind,
    PatientEvaluation,
    RulePack,
    Status,
    evaluate,
    evaluate_many,
    load_default_pack,
)
from fmt_plugin.rules.dates import add_months, completed_years

# The baseline reuses the engine's rule logic and swaps only the evidence lookup, so that the
# comparison measures the code index and nothing else; hence these private imports.
from fmt_plugin.rules.engine import (
    _evaluate_facts,
    _evidence_order,
    _Facts,
    _patient_inputs,
)
from fmt_plugin.rules.pack import normalize_code, normalize_system

DEFAULT_PATIENTS = 100_000
DEFAULT_SEED = 2026
DEFAULT_AS_OF = date(2026, 3, 15)
DEFAULT_BASELINE_PATIENTS = 2_000
GOAL_SECONDS = 30.0
HISTORY_YEARS = 6

T = TypeVar("T")


class Weighted(Generic[T]):
    """A weighted table of values, with cumulative weights computed once."""

    def __init__(self, rows: Sequence[tuple[T, float]]) -> None:
        self.values = [value for value, _ in rows]
        self.cum_weights = list(itertools.accumulate(weight for _, weight in rows))

    def pick(self, rng: random.Random, k: int = 1) -> list[T]:
        """`k` values drawn with replacement."""
        return rng.choices(self.values, cum_weights=self.cum_weights, k=k)


# --- the synthetic population ---------------------------------------------------------------

# Numeric tables read best as rows, so the formatter leaves them alone.
# fmt: off

#: Share (%) of each 5-year age band, rounded from INSEE's pyramid at 1 January 2025
#: (metropolitan France and DROM); 100 and over is folded into 95-99.
AGE_PYRAMID = Weighted[int]((
    (0, 5.0), (5, 5.6), (10, 6.0), (15, 6.1), (20, 5.8), (25, 5.5), (30, 5.9),
    (35, 6.2), (40, 6.3), (45, 6.1), (50, 6.6), (55, 6.5), (60, 6.3), (65, 5.9),
    (70, 5.4), (75, 4.4), (80, 2.9), (85, 2.0), (90, 1.1), (95, 0.4),
))

#: (age from, share of women): women outlive men, so the share rises with age (~51 % overall).
WOMEN_SHARE = ((0, 0.49), (50, 0.515), (70, 0.55), (80, 0.61), (90, 0.72))

#: (age from, P(ALD 8, diabetes)): ~6 % of adults, more after 60.
DIABETES_ALD_BY_AGE = ((0, 0.002), (18, 0.01), (40, 0.055), (60, 0.115), (75, 0.13))

#: (age from, P(at least one other ALD)): with ALD 8, ~20 % of adults have an ALD.
OTHER_ALD_BY_AGE = ((0, 0.02), (18, 0.05), (40, 0.12), (60, 0.23), (75, 0.37))

#: Other ALD numbers, weighted roughly like the Assurance Maladie's counts (cancers first).
OTHER_ALDS = Weighted[int]((
    (30, 30.0), (23, 15.0), (13, 10.0), (5, 10.0), (3, 5.0), (14, 5.0), (15, 4.0),
    (1, 4.0), (19, 2.5), (24, 2.0), (22, 2.0), (16, 2.0), (9, 2.0), (25, 1.0),
    (7, 1.0), (6, 1.0), (21, 0.5), (2, 0.3), (10, 0.3), (28, 0.3),
))

#: (age from, P(hypertension)): ~25 % after 50; coded I10, or only flagged `hta` (8 %).
HYPERTENSION_BY_AGE = (
    (0, 0.0), (18, 0.02), (40, 0.08), (50, 0.18), (65, 0.30), (80, 0.40),
)

#: (age from, P(routine lab panel) per year).
PANEL_BY_AGE = ((0, 0.0), (18, 0.3), (40, 0.5), (60, 0.7), (75, 0.8))

#: (age from, everyday consultations per year).
CONSULTATIONS_BY_AGE = (
    (0, 2.8), (6, 0.6), (18, 0.7), (40, 1.1), (60, 1.6), (75, 2.3),
)

#: HL7 OBX-11 statuses of lab results: mostly final, some preliminary, corrected, cancelled.
RESULT_STATUSES = Weighted[str]((("F", 0.93), ("P", 0.04), ("C", 0.02), ("X", 0.01)))

# fmt: on

#: (flag, minimum age, probability): risk markers and contre-indications.
FLAGS: tuple[tuple[str, int, float], ...] = (
    ("risk:grippe", 1, 0.03),
    ("risk:covid", 1, 0.02),
    ("risk:pneumocoque", 18, 0.02),
    ("risk:mrc", 40, 0.01),
    ("ci:grippe", 1, 0.003),
    ("ci:covid", 1, 0.003),
    ("ci:pneumocoque", 18, 0.001),
)

#: (CIM-10 code, sex or None, minimum age, probability): exclusions, then common noise.
CONDITIONS: tuple[tuple[str, Sex | None, int, float], ...] = (
    ("Z90.71", "F", 45, 0.06),  # hysterectomy
    ("Z85.3", "F", 50, 0.03),  # history of breast cancer
    ("C50.9", "F", 40, 0.005),
    ("Z85.0", None, 50, 0.006),  # history of colorectal cancer
    ("K51.9", None, 18, 0.004),
    ("K50.9", None, 18, 0.003),
    ("N18.3", None, 60, 0.04),  # chronic kidney disease
    ("J45.9", None, 3, 0.06),  # asthma: does not match any criteria
    ("E78.0", None, 40, 0.15),  # dyslipidaemia: idem
    ("F32.9", None, 18, 0.05),  # depression: idem
)

OVERRIDE_SHARE = 0.012
OVERRIDE_KINDS = Weighted[OverrideKind](
    (
        (OverrideKind.EXCLUSION, 0.3),
        (OverrideKind.REFUS, 0.3),
        (OverrideKind.REPORT, 0.2),
        (OverrideKind.FAIT_AILLEURS, 0.2),
    )
)

# --- the synthetic events (codes the pack knows, and many it does not) ----------------------

LabPanel = tuple[tuple[str, float], ...]

#: A routine blood panel: (LOINC, probability). Lipids, blood count, TSH… are unknown codes.
ROUTINE_PANEL: LabPanel = (
    ("1558-6", 0.7),  # fasting glucose
    ("2160-0", 0.55),  # creatinine
    ("62238-1", 0.3),  # eGFR
    ("2093-3", 0.3),  # total cholesterol
    ("13457-7", 0.2),  # LDL cholesterol
    ("2571-8", 0.15),  # triglycerides
    ("718-7", 0.25),  # haemoglobin
    ("3016-3", 0.1),  # TSH
    ("1742-6", 0.1),  # ALT
)
DIABETES_PANEL: LabPanel = (
    ("2160-0", 0.75),
    ("14959-1", 0.45),  # albumin/creatinine ratio: counts as both urine analyses
    ("14957-5", 0.12),  # albuminuria
    ("2161-8", 0.12),  # urine creatinine
)
HYPERTENSION_PANEL: LabPanel = (
    ("2160-0", 0.55),
    ("2823-3", 0.45),  # potassium: unknown
    ("9318-7", 0.15),  # albumin/creatinine ratio
    ("14957-5", 0.08),
    ("2161-8", 0.08),
)
#: (system, code, weight): everyday acts, none of which an indicator reads.
CONSULTATIONS = Weighted[tuple[str, str]](
    (
        (("NGAP", "G"), 70.0),
        (("NGAP", "GS"), 8.0),
        (("NGAP", "VG"), 4.0),
        (("NGAP", "APC"), 4.0),
        (("NGAP", "TCG"), 6.0),
        (("CCAM", "DEQP003"), 4.0),  # ECG
        (("CCAM", "QZFA031"), 1.0),
    )
)
#: (age in months, CVX, probability): the infant schedule; the pack reads only ROR and ACWY.
INFANT_VACCINES: tuple[tuple[int, str, float], ...] = (
    (2, "146", 0.97),  # hexavalent DTaP-IPV-Hib-HepB
    (2, "133", 0.95),  # PCV13
    (3, "163", 0.8),  # MenB
    (4, "146", 0.96),
    (4, "133", 0.94),
    (5, "163", 0.78),
    (11, "146", 0.93),
    (11, "133", 0.92),
    (12, "03", 0.92),  # ROR dose 1 ("03": the pack normalizes numeric CVX)
    (12, "163", 0.75),
    (16, "94", 0.86),  # ROR dose 2 (MMRV here, so that a second code is exercised)
)
#: Since 2025 the 6-month meningococcal dose is ACWY; before, it was MenC (CVX 103).
MENINGO_ACWY_SINCE = date(2025, 1, 1)
#: M'T dents codes changed on 2025-04-01.
DENTAL_CODES_SINCE = date(2025, 4, 1)
FLU_VACCINES = ("150", "158", "171", "185", "197", "205")
COVID_VACCINES = ("208", "300", "309", "312", "313", "512")


def _by_age(table: Sequence[tuple[int, float]], age: float) -> float:
    """The value of the last row whose age floor is reached."""
    value = table[0][1]
    for floor, row_value in table:
        if age >= floor:
            value = row_value
    return value


# --- generation -----------------------------------------------------------------------------


@dataclass
class Practice:
    """A synthetic practice: patients, their events and the practice's decisions."""

    patients: list[Patient] = field(default_factory=list)
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    overrides: dict[str, list[Override]] = field(default_factory=dict)

    @property
    def event_count(self) -> int:
        """Events of all patients."""
        return sum(len(items) for items in self.evidence.values())

    @property
    def override_count(self) -> int:
        """Overrides of all patients."""
        return sum(len(items) for items in self.overrides.values())


class PracticeGenerator:
    """Draws a reproducible practice from one `random.Random`."""

    def __init__(self, rng: random.Random, pack: RulePack, as_of: date) -> None:
        self.rng = rng
        self.pack = pack
        self.as_of = as_of
        self.start = add_months(as_of, -12 * HISTORY_YEARS)
        # Sharing one date object per day keeps two million events small in memory.
        self._days: dict[int, date] = {}
        self._periods: dict[int, list[tuple[int, int]]] = {}
        self._programs: tuple[Callable[[Patient, float, list[Evidence]], None], ...] = (
            self._infancy,
            self._hpv,
            self._dental,
            self._seasonal,
            self._pneumococcus,
            self._routine_labs,
            self._chronic_labs,
            self._screening,
            self._consultations,
        )

    def practice(self, count: int) -> Practice:
        """`count` patients with their events and overrides."""
        practice = Practice()
        for number in range(count):
            patient = self.patient(f"P{number:06d}")
            practice.patients.append(patient)
            practice.evidence[patient.patient_id] = self.events(patient)
            overrides = self.overrides(patient)
            if overrides:
                practice.overrides[patient.patient_id] = overrides
        return practice

    # -- patients --

    def patient(self, patient_id: str) -> Patient:
        """One patient: age from the pyramid, sex, ALD, conditions and flags."""
        rng = self.rng
        birth = self._birth_in_band(AGE_PYRAMID.pick(rng)[0])
        age = completed_years(birth, self.as_of)
        sex: Sex = "F" if rng.random() < _by_age(WOMEN_SHARE, age) else "M"
        ald = self._alds(age)
        conditions, marker_flags = self._conditions(age, sex, ald)
        flags = frozenset(
            name for name, minimum, p in FLAGS if age >= minimum and rng.random() < p
        )
        return Patient(
            patient_id=patient_id,
            source="bench",
            birth_date=birth,
            sex=sex,
            ald=ald,
            conditions=conditions,
            flags=flags | marker_flags,
        )

    def _birth_in_band(self, floor: int) -> date:
        """A birth date spread uniformly over the 5-year band starting at age `floor`."""
        earliest = add_months(self.as_of, -12 * (floor + 5)) + timedelta(days=1)
        latest = add_months(self.as_of, -12 * floor)
        return self._day(self.rng.randint(earliest.toordinal(), latest.toordinal()))

    def _alds(self, age: int) -> frozenset[int]:
        rng = self.rng
        ald: set[int] = set()
        if rng.random() < _by_age(DIABETES_ALD_BY_AGE, age):
            ald.add(8)
        if rng.random() < _by_age(OTHER_ALD_BY_AGE, age):
            ald.update(OTHER_ALDS.pick(rng, k=1 + (rng.random() < 0.12)))
        return frozenset(ald)

    def _conditions(
        self, age: int, sex: Sex, ald: frozenset[int]
    ) -> tuple[frozenset[str], frozenset[str]]:
        """CIM-10 codes, and the marker flags some EHRs set instead of coding."""
        rng = self.rng
        codes = {
            code
            for code, only, minimum, p in CONDITIONS
            if (only is None or only == sex) and age >= minimum and rng.random() < p
        }
        markers: set[str] = set()
        if 8 in ald:
            markers.add("E11.9" if rng.random() < 0.9 else "E10.9")
        elif age >= 40 and rng.random() < 0.018:
            # Diabetic without the ALD: usually coded, sometimes only flagged.
            markers.add("E11.9" if rng.random() < 0.8 else "diabete")
        if rng.random() < _by_age(HYPERTENSION_BY_AGE, age):
            markers.add("I10" if rng.random() < 0.92 else "hta")
        flags = {marker for marker in markers if marker in ("diabete", "hta")}
        return frozenset(codes | (markers - flags)), frozenset(flags)

    # -- events --

    def events(self, patient: Patient) -> list[Evidence]:
        """About twenty coded events over the last six years, some the pack does not know."""
        out: list[Evidence] = []
        age = self._age_at(patient, self.as_of)
        for program in self._programs:
            program(patient, age, out)
        return out

    def _infancy(self, patient: Patient, age: float, out: list[Evidence]) -> None:
        if age >= HISTORY_YEARS + 1:
            return
        birth = self._birth(patient)
        rng = self.rng
        for months, cvx, p in INFANT_VACCINES:
            if rng.random() < p:
                self._vaccine(out, add_months(birth, months) + self._jitter(45), cvx)
        meningo = add_months(birth, 6) + self._jitter(45)
        if rng.random() < 0.75:
            cvx = "203" if meningo >= MENINGO_ACWY_SINCE else "103"
            self._vaccine(out, meningo, cvx)
        self._child_exam(out, add_months(birth, 8) + self._jitter(75), 0.78, "9e")
        self._child_exam(out, add_months(birth, 22) + self._jitter(140), 0.68, "24e")

    def _child_exam(self, out: list[Evidence], on: date, p: float, which: str) -> None:
        if self.rng.random() >= p:
            return
        if self.rng.random() < 0.2:
            self._act(out, on, "EVENT", f"exam:{which}_mois")
        else:
            self._act(out, on, "NGAP", "COE")

    def _hpv(self, patient: Patient, age: float, out: list[Evidence]) -> None:
        if not 10 <= age < 21 or self.rng.random() >= 0.5:
            return
        first = add_months(self._birth(patient), 132) + self._jitter(3 * 365)
        self._vaccine(out, first, "165")
        if self.rng.random() < 0.85:
            self._vaccine(
                out, first + timedelta(days=self.rng.randint(180, 240)), "165"
            )

    def _dental(self, patient: Patient, age: float, out: list[Evidence]) -> None:
        if age >= 25 + HISTORY_YEARS or age < 3:
            return
        for on in self._day_per_period(12):
            if self.rng.random() < 0.33 and 3 <= self._age_at(patient, on) < 25:
                code = "BDA" if on >= DENTAL_CODES_SINCE else "BDC"
                self._act(out, on, "NGAP", code)

    def _seasonal(self, patient: Patient, age: float, out: list[Evidence]) -> None:
        at_risk = bool(patient.ald) or "risk:grippe" in patient.flags
        for season in range(self.as_of.year - HISTORY_YEARS, self.as_of.year + 1):
            on = self._date_between(date(season, 10, 14), date(season + 1, 1, 31))
            if on is None:
                continue
            older = self._age_at(patient, on) >= 65
            rates = (0.55, 0.3) if older else (0.35, 0.2) if at_risk else (0.03, 0.01)
            if self.rng.random() < rates[0]:
                self._flu_vaccine(out, on)
            if season >= 2021 and self.rng.random() < rates[1]:
                self._vaccine(out, on, self.rng.choice(COVID_VACCINES))

    def _flu_vaccine(self, out: list[Evidence], on: date) -> None:
        if self.rng.random() < 0.1:
            self._emit(out, on, "ATC", "J07BB02", EvidenceSource.HL7)
        else:
            self._vaccine(out, on, self.rng.choice(FLU_VACCINES))

    def _pneumococcus(self, patient: Patient, age: float, out: list[Evidence]) -> None:
        if age < 18:
            return
        rng = self.rng
        at_risk = bool(patient.ald) or "risk:pneumocoque" in patient.flags
        recent = self._date_between(add_months(self.as_of, -36), self.as_of)
        if at_risk and recent is not None and rng.random() < 0.3:
            self._vaccine(out, recent, "216" if rng.random() < 0.9 else "327")
        elif (at_risk or age >= 65) and rng.random() < 0.1:
            earlier = self._date_between(self.start, add_months(self.as_of, -24))
            if earlier is not None:  # the old PCV13 + PPSV23 schedule: unknown codes
                self._vaccine(out, earlier, "133")
                self._vaccine(out, earlier + timedelta(days=60), "33")

    def _routine_labs(self, patient: Patient, age: float, out: list[Evidence]) -> None:
        if age < 18:
            return
        for on in self._day_per_period(12):
            if self.rng.random() < _by_age(PANEL_BY_AGE, self._age_at(patient, on)):
                self._panel(out, on, ROUTINE_PANEL)

    def _chronic_labs(self, patient: Patient, age: float, out: list[Evidence]) -> None:
        diabetic = 8 in patient.ald or bool(
            {"E11.9", "diabete"} & self._markers(patient)
        )
        hypertensive = bool({"I10", "hta"} & self._markers(patient))
        if diabetic:
            for on in self._day_per_period(4):
                if self.rng.random() < 0.7:
                    self._lab(
                        out, on, "4548-4" if self.rng.random() < 0.9 else "17856-6"
                    )
        for on in self._day_per_period(12):
            if diabetic:
                self._panel(out, on, DIABETES_PANEL)
            elif hypertensive:
                self._panel(out, on, HYPERTENSION_PANEL)

    def _screening(self, patient: Patient, age: float, out: list[Evidence]) -> None:
        if age < 25:
            return
        self._colorectal(patient, out)
        if patient.sex == "F":
            self._breast(patient, out)
            self._cervix(patient, out)

    def _colorectal(self, patient: Patient, out: list[Evidence]) -> None:
        rng = self.rng
        for on in self._day_per_period(24):
            if not 50 <= self._age_at(patient, on) < 75:
                continue
            if rng.random() < 0.33:
                self._lab(out, on, "29771-3" if rng.random() < 0.8 else "57905-2")
            if rng.random() < 0.025:
                self._act(out, on, "CCAM", rng.choice(("HHQE002", "HHQE005")))

    def _breast(self, patient: Patient, out: list[Evidence]) -> None:
        rng = self.rng
        for on in self._day_per_period(24):
            if not 50 <= self._age_at(patient, on) < 75:
                continue
            if rng.random() < 0.5:
                self._act(
                    out, on, "CCAM", "QEQK004" if rng.random() < 0.85 else "QEQK001"
                )
            if rng.random() < 0.15:
                self._act(out, on, "CCAM", "QEQM001")  # breast ultrasound: unknown

    def _cervix(self, patient: Patient, out: list[Evidence]) -> None:
        rng = self.rng
        for on in self._day_per_period(36):
            if not 25 <= self._age_at(patient, on) < 66:
                continue
            if self._age_at(patient, on) >= 30 and rng.random() < 0.45:
                self._lab(out, on, "77379-6" if rng.random() < 0.7 else "21440-3")
            elif rng.random() < 0.4:
                if rng.random() < 0.5:
                    self._act(out, on, "CCAM", "JKQX261")
                else:
                    self._lab(out, on, "10524-7")

    def _consultations(self, patient: Patient, age: float, out: list[Evidence]) -> None:
        rng = self.rng
        count = self._poisson(_by_age(CONSULTATIONS_BY_AGE, age) * HISTORY_YEARS)
        first = max(self.start, self._birth(patient))
        for system, code in CONSULTATIONS.pick(rng, k=count):
            on = self._date_between(first, self.as_of)
            if on is not None:
                self._act(out, on, system, code)

    # -- overrides --

    def overrides(self, patient: Patient) -> list[Override]:
        """Usually none; now and then a practice decision, sometimes already expired."""
        rng = self.rng
        if rng.random() >= OVERRIDE_SHARE:
            return []
        concerned = [
            indicator.id
            for indicator in self.pack.indicators
            if indicator.population.includes(patient, self.as_of)
        ]
        if not concerned:
            return []
        kind = OVERRIDE_KINDS.pick(rng)[0]
        recorded = self.as_of - timedelta(days=rng.randint(1, 720))
        expired = rng.random() < 0.1  # an old decision: the engine must ignore it
        return [
            Override(
                patient_id=patient.patient_id,
                indicator=rng.choice(concerned),
                kind=kind,
                author="dr-bench",
                recorded_on=recorded,
                date=self._override_date(kind, recorded),
                expires=self.as_of - timedelta(days=1) if expired else None,
            )
        ]

    def _override_date(self, kind: OverrideKind, recorded: date) -> date | None:
        if kind is OverrideKind.REPORT:
            return self.as_of + timedelta(days=self.rng.randint(15, 180))
        if kind is OverrideKind.FAIT_AILLEURS:
            return recorded - timedelta(days=self.rng.randint(0, 60))
        return None

    # -- helpers --

    def _day(self, ordinal: int) -> date:
        day = self._days.get(ordinal)
        if day is None:
            day = self._days[ordinal] = date.fromordinal(ordinal)
        return day

    def _birth(self, patient: Patient) -> date:
        if patient.birth_date is None:
            raise ValueError("every synthetic patient has a birth date")
        return patient.birth_date

    def _age_at(self, patient: Patient, on: date) -> float:
        return (on.toordinal() - self._birth(patient).toordinal()) / 365.25

    def _markers(self, patient: Patient) -> frozenset[str]:
        return patient.conditions | patient.flags

    def _jitter(self, days: int) -> timedelta:
        return timedelta(days=self.rng.randint(0, days))

    def _day_per_period(self, months: int) -> list[date]:
        """A uniform day in each period of `months`, from `as_of` back through the history."""
        periods = self._periods.get(months)
        if periods is None:
            periods = self._periods[months] = self._split_history(months)
        return [self._day(self.rng.randint(low, high)) for low, high in periods]

    def _split_history(self, months: int) -> list[tuple[int, int]]:
        """Consecutive periods of `months` as ordinal bounds, newest first."""
        periods = []
        last = self.as_of
        while last > self.start:
            first = max(add_months(last, -months), self.start) + timedelta(days=1)
            periods.append((first.toordinal(), last.toordinal()))
            last = first - timedelta(days=1)
        return periods

    def _date_between(self, first: date, last: date) -> date | None:
        """A uniform day in [first, last] within the history (None when they do not meet)."""
        low = max(first, self.start + timedelta(days=1)).toordinal()
        high = min(last, self.as_of).toordinal()
        return self._day(self.rng.randint(low, high)) if low <= high else None

    def _poisson(self, mean: float) -> int:
        """Knuth's method: plenty fast for the small means used here."""
        threshold, count, product = math.exp(-mean), 0, self.rng.random()
        while product > threshold:
            count += 1
            product *= self.rng.random()
        return count

    def _panel(self, out: list[Evidence], on: date, panel: LabPanel) -> None:
        for loinc, p in panel:
            if self.rng.random() < p:
                self._lab(out, on, loinc)

    def _lab(self, out: list[Evidence], on: date, loinc: str) -> None:
        status = RESULT_STATUSES.pick(self.rng)[0]
        self._emit(out, on, "LOINC", loinc, EvidenceSource.HL7, status)
        if status == "P" and self.rng.random() < 0.7:
            # The final result usually follows the preliminary one.
            self._emit(out, on, "LOINC", loinc, EvidenceSource.HL7, "F")

    def _vaccine(self, out: list[Evidence], on: date, cvx: str) -> None:
        self._emit(out, on, "CVX", cvx, EvidenceSource.HL7)

    def _act(self, out: list[Evidence], on: date, system: str, code: str) -> None:
        self._emit(out, on, system, code, EvidenceSource.EHR)

    def _emit(
        self,
        out: list[Evidence],
        on: date,
        system: str,
        code: str,
        source: EvidenceSource,
        result_status: str | None = None,
    ) -> None:
        """Keep events of the history only: a child's early vaccines may predate it."""
        if self.start < on <= self.as_of:
            day = self._day(on.toordinal())
            out.append(Evidence(day, system, code, source, result_status=result_status))


# --- the naive baseline (for comparison only) -----------------------------------------------


class NaiveCodeLists:
    """The pack's code lists as plain sequences, searched linearly, never indexed."""

    def __init__(self, pack: RulePack) -> None:
        self.exact = {name: tuple(cl.exact) for name, cl in pack.code_lists.items()}
        self.prefixes = {name: cl.prefixes for name, cl in pack.code_lists.items()}

    def contains(self, name: str, system: str, code: str) -> bool:
        """True when the code is in the list `name` (normalized on every call)."""
        norm_system = normalize_system(system)
        norm_code = normalize_code(norm_system, code)
        if (norm_system, norm_code) in self.exact[name]:
            return True
        return any(
            norm_system == prefix_system and norm_code.startswith(prefix)
            for prefix_system, prefix in self.prefixes[name]
        )


class _NaiveFacts(_Facts):
    """Evidence found by scanning every event of the patient on every question."""

    def __init__(
        self, lists: NaiveCodeLists, evidence: Sequence[Evidence], as_of: date
    ) -> None:
        self._lists = lists
        self._events = evidence
        self._as_of = as_of

    def _usable(self, item: Evidence) -> bool:
        return item.date <= self._as_of and item.counts()

    def of(self, lists: Sequence[str]) -> list[Evidence]:
        found = {
            item
            for item in self._events
            if item.indicator is None
            and self._usable(item)
            and any(self._lists.contains(n, item.system, item.code) for n in lists)
        }
        return sorted(found, key=_evidence_order)

    def declared(self, indicator_id: str) -> list[Evidence]:
        found = {
            item
            for item in self._events
            if item.indicator == indicator_id and self._usable(item)
        }
        return sorted(found, key=_evidence_order)


def naive_evaluate(
    pack: RulePack,
    lists: NaiveCodeLists,
    patient: Patient,
    evidence: Iterable[Evidence],
    overrides: Iterable[Override],
    as_of: date,
) -> PatientEvaluation:
    """BASELINE, for timing only: `evaluate` with a linear code search instead of the index.

    The rules themselves are the engine's, so both must return the same statuses; only the way
    evidence is matched to code lists differs: for each indicator, every event of the patient
    is compared with the lists' codes one by one.
    """
    active, items = _patient_inputs(patient, evidence, overrides, as_of)
    facts = _NaiveFacts(lists, items, as_of)
    return _evaluate_facts(pack, patient, facts, active, as_of)


def cold_cache_evaluate(
    pack: RulePack,
    patient: Patient,
    evidence: Iterable[Evidence],
    overrides: Iterable[Override],
    as_of: date,
) -> PatientEvaluation:
    """`evaluate` after emptying the pack's code cache: the index stays, the cache is cold."""
    pack._classifier._cache.clear()
    return evaluate(pack, patient, evidence, overrides, as_of)


# --- measurements ---------------------------------------------------------------------------

Evaluator = Callable[
    [Patient, Sequence[Evidence], Sequence[Override]], PatientEvaluation
]


def evaluate_practice(
    pack: RulePack, practice: Practice, as_of: date
) -> list[PatientEvaluation]:
    """Every indicator of every patient, through the engine's batch entry point."""
    return evaluate_many(
        pack, practice.patients, practice.evidence, practice.overrides, as_of
    )


def timed(run: Callable[[], T]) -> tuple[T, float]:
    """The result of `run` and its wall time in seconds."""
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def traced_peak(run: Callable[[], list[PatientEvaluation]]) -> tuple[int, int]:
    """(peak, still held at the end) bytes allocated by `run`, as tracemalloc sees them.

    Objects that existed before (the practice) are not traced: this is the evaluation's own
    memory, results included.
    """
    tracemalloc.start()
    try:
        results = run()
        current, peak = tracemalloc.get_traced_memory()
        del results  # freed while still traced, so that `current` counted them
    finally:
        tracemalloc.stop()
    return peak, current


def max_rss_bytes() -> int:
    """The process's peak resident set size so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def count_statuses(
    pack: RulePack, results: Iterable[PatientEvaluation]
) -> dict[str, dict[str, int]]:
    """Per indicator, how many patients have each status."""
    counts = {ident: dict.fromkeys(Status, 0) for ident in pack.indicator_ids}
    for result in results:
        for ident, status in result.statuses.items():
            counts[ident][status.status] += 1
    return {
        ident: {str(status): n for status, n in by_status.items()}
        for ident, by_status in counts.items()
    }


def describe_population(
    pack: RulePack, practice: Practice, as_of: date
) -> dict[str, float]:
    """The shares the generator aims at, measured on what it drew."""
    patients = practice.patients
    ages = [completed_years(p.birth_date, as_of) for p in patients if p.birth_date]
    adults = [p for p, age in zip(patients, ages, strict=True) if age >= 18]
    over_50 = [p for p, age in zip(patients, ages, strict=True) if age >= 50]
    return {
        "women": _share(patients, lambda p: p.sex == "F"),
        "adults_with_ald": _share(adults, lambda p: bool(p.ald)),
        "adults_with_ald_8": _share(adults, lambda p: 8 in p.ald),
        "hypertension_after_50": _share(
            over_50, lambda p: "I10" in p.conditions or "hta" in p.flags
        ),
        "patients_with_override": len(practice.overrides) / max(len(patients), 1),
        "events_per_patient": practice.event_count / max(len(patients), 1),
        "unknown_event_share": _unknown_share(pack, practice),
    }


def _share(patients: Sequence[Patient], test: Callable[[Patient], bool]) -> float:
    return sum(map(test, patients)) / max(len(patients), 1)


def _unknown_share(pack: RulePack, practice: Practice) -> float:
    known = Counter(
        pack.knows(item.system, item.code)
        for items in practice.evidence.values()
        for item in items
    )
    return known[False] / max(known.total(), 1)


def compare_with_baseline(
    pack: RulePack, practice: Practice, as_of: date, size: int, repeat: int
) -> dict[str, Any]:
    """Engine, cold-cache engine and naive baseline on the same first `size` patients.

    The three run in turn `repeat` times and each keeps its best time: on a shared machine
    the minimum is the least disturbed measurement.
    """
    patients = practice.patients[:size]
    lists = NaiveCodeLists(pack)
    runners: dict[str, Evaluator] = {
        "engine": lambda p, e, o: evaluate(pack, p, e, o, as_of),
        "engine_cold_cache": lambda p, e, o: cold_cache_evaluate(pack, p, e, o, as_of),
        "naive_linear_search": lambda p, e, o: naive_evaluate(
            pack, lists, p, e, o, as_of
        ),
    }
    best = dict.fromkeys(runners, math.inf)
    outputs = {}
    for _ in range(repeat):
        for name, runner in runners.items():
            outputs[name], seconds = _time_each(practice, patients, runner)
            best[name] = min(best[name], seconds)
    report: dict[str, Any] = {"patients": len(patients), "repeat": repeat}
    for name, seconds in best.items():
        report[name] = {"seconds": seconds, "patients_per_s": len(patients) / seconds}
    report["naive_over_engine"] = best["naive_linear_search"] / best["engine"]
    report["cold_cache_over_engine"] = best["engine_cold_cache"] / best["engine"]
    report["identical_results"] = all(
        out == outputs["engine"] for out in outputs.values()
    )
    return report


def _time_each(
    practice: Practice, patients: Sequence[Patient], runner: Evaluator
) -> tuple[list[PatientEvaluation], float]:
    evidence, overrides = practice.evidence, practice.overrides
    started = time.perf_counter()
    results = [
        runner(p, evidence.get(p.patient_id, ()), overrides.get(p.patient_id, ()))
        for p in patients
    ]
    return results, time.perf_counter() - started


def profile_evaluation(
    pack: RulePack, practice: Practice, as_of: date, top: int
) -> str:
    """The `top` functions by cumulative time while evaluating the whole practice."""
    profiler = cProfile.Profile()
    profiler.runcall(evaluate_practice, pack, practice, as_of)
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(top)
    return stream.getvalue()


# --- command line ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF, metavar="YYYY-MM-DD"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout"
    )
    parser.add_argument(
        "--trace-memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run a second, tracemalloc-traced evaluation pass (default: on)",
    )
    parser.add_argument(
        "--baseline-patients",
        type=int,
        default=DEFAULT_BASELINE_PATIENTS,
        help="patients compared with the naive baseline (0: skip)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="timed evaluation passes; the best is reported (default: 1)",
    )
    parser.add_argument(
        "--baseline-repeat",
        type=int,
        default=5,
        help="rounds of the baseline comparison; best of each (default: 5)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="TOP",
        help="print the TOP functions by cumulative time (extra pass, on stderr)",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Generate, evaluate, measure; the report as a JSON-ready mapping."""
    pack = load_default_pack()
    rng = random.Random(args.seed)  # noqa: S311  # synthetic data, reproducible by design
    generator = PracticeGenerator(rng, pack, args.as_of)
    practice, generation_s = timed(lambda: generator.practice(args.patients))
    memory = {"max_rss_after_generation_bytes": max_rss_bytes()}
    report: dict[str, Any] = {
        "seed": args.seed,
        "as_of": args.as_of.isoformat(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "patients": len(practice.patients),
        "events": practice.event_count,
        "overrides": practice.override_count,
        "generation_s": generation_s,
        **measure_evaluation(pack, practice, args.as_of, args.repeat),
        "memory": memory,
        "population": describe_population(pack, practice, args.as_of),
    }
    memory["max_rss_after_evaluation_bytes"] = max_rss_bytes()
    if args.trace_memory:
        peak, held = traced_peak(lambda: evaluate_practice(pack, practice, args.as_of))
        memory["tracemalloc_peak_bytes"] = peak
        memory["tracemalloc_held_at_end_bytes"] = held
    if args.baseline_patients > 0:
        report["baseline"] = compare_with_baseline(
            pack, practice, args.as_of, args.baseline_patients, args.baseline_repeat
        )
    memory["max_rss_at_end_bytes"] = max_rss_bytes()
    if args.profile:
        top = profile_evaluation(pack, practice, args.as_of, args.profile)
        print(top, file=sys.stderr)
    return report


def measure_evaluation(
    pack: RulePack, practice: Practice, as_of: date, repeat: int
) -> dict[str, Any]:
    """Time `repeat` untraced evaluations of the whole practice; keep the best."""
    runs: list[float] = []
    for _ in range(repeat):
        results, seconds = timed(lambda: evaluate_practice(pack, practice, as_of))
        runs.append(seconds)
        statuses = count_statuses(pack, results)
        del results  # the next pass must not start with these results held
    best = min(runs)
    projected = best * DEFAULT_PATIENTS / max(len(practice.patients), 1)
    return {
        "evaluation_s": best,
        "evaluation_runs_s": runs,
        "patients_per_s": len(practice.patients) / best,
        "goal_s_for_100k": GOAL_SECONDS,
        "projected_s_for_100k": projected,
        "goal_met": projected < GOAL_SECONDS,
        "statuses": statuses,
        "unexercised": _unexercised(statuses),
    }


def _unexercised(statuses: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Indicators the data does not exercise: no patient `fait`, or none `a_verifier`.

    Zero `a_venir` or `exclu` cells can be right: a rolling indicator is never `a_venir`, and
    one without an exclusion rule is `exclu` only through a practice override.
    """
    return [
        ident
        for ident, by_status in statuses.items()
        if not by_status[Status.FAIT] or not by_status[Status.A_VERIFIER]
    ]


def format_report(report: Mapping[str, Any]) -> str:
    """The human-readable report."""
    per_patient = report["population"]["events_per_patient"]
    header = (
        f"as_of {report['as_of']}, seed {report['seed']}, "
        f"Python {report['python']}, {report['cpus']} CPU(s)"
    )
    evaluation = (
        f"{report['evaluation_s']:>12.2f} s  (goal for 100,000: < {GOAL_SECONDS:.0f} s;"
        f" projected {report['projected_s_for_100k']:.1f} s)"
    )
    lines = [
        header,
        f"patients        {report['patients']:>12,}",
        f"events          {report['events']:>12,}  ({per_patient:.1f} per patient)",
        f"overrides       {report['overrides']:>12,}",
        f"generation      {report['generation_s']:>12.2f} s",
        f"evaluation      {evaluation}",
        f"  timed passes    {', '.join(f'{t:.2f} s' for t in report['evaluation_runs_s'])}",
        f"patients/s      {report['patients_per_s']:>12,.0f}",
        *_memory_lines(report["memory"]),
        "",
        *_population_lines(report["population"]),
        "",
        *_status_lines(report["statuses"]),
    ]
    if report["unexercised"]:
        lines.append(
            "NOT EXERCISED (no fait or no a_verifier): "
            + ", ".join(report["unexercised"])
        )
    if "baseline" in report:
        lines += ["", *_baseline_lines(report["baseline"])]
    return "\n".join(lines)


def _mib(n: int) -> str:
    return f"{n / 2**20:>10,.1f} MiB"


def _memory_lines(memory: Mapping[str, int]) -> list[str]:
    lines = []
    if "tracemalloc_peak_bytes" in memory:
        peak = _mib(memory["tracemalloc_peak_bytes"])
        lines += [
            f"tracemalloc peak  {peak}  (evaluation pass only, results included)",
            f"  held at end     {_mib(memory['tracemalloc_held_at_end_bytes'])}",
        ]
    return [
        *lines,
        f"max RSS, generated  {_mib(memory['max_rss_after_generation_bytes'])}",
        f"max RSS, evaluated  {_mib(memory['max_rss_after_evaluation_bytes'])}",
        f"max RSS, at end     {_mib(memory['max_rss_at_end_bytes'])}",
    ]


def _population_lines(population: Mapping[str, float]) -> list[str]:
    return ["population (shares of the synthetic practice)"] + [
        f"  {name:<24} {value:8.3f}" for name, value in population.items()
    ]


def _status_lines(statuses: Mapping[str, Mapping[str, int]]) -> list[str]:
    columns = [str(status) for status in Status]
    header = f"{'indicator':<20}" + "".join(f"{c:>12}" for c in columns)
    rows = [
        f"{ident:<20}" + "".join(f"{by_status[c]:>12,}" for c in columns)
        for ident, by_status in statuses.items()
    ]
    return [header, *rows]


def _baseline_lines(baseline: Mapping[str, Any]) -> list[str]:
    title = (
        f"BASELINE comparison on the first {baseline['patients']:,} patients "
        f"(same data, best of {baseline['repeat']})"
    )
    lines = [title]
    for name in ("engine", "engine_cold_cache", "naive_linear_search"):
        run_ = baseline[name]
        lines.append(
            f"  {name:<22} {run_['seconds']:8.3f} s  {run_['patients_per_s']:>10,.0f} "
            "patients/s"
        )
    lines.append(
        f"  naive / engine {baseline['naive_over_engine']:.2f}x, "
        f"cold cache / engine {baseline['cold_cache_over_engine']:.2f}x; "
        f"identical results: {baseline['identical_results']}"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
