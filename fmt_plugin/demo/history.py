"""Three years of a synthetic patient's care: lab reports, vaccinations and EHR acts.

Each patient's history is drawn from a stream of its own (seed and patient id), so it does not
depend on who else is in the practice. Who gets what follows the recommendations the rule pack
encodes (its populations decide who is offered a flu, covid or pneumococcal vaccine), taken up
as often as in France, roughly: about half of the eligible for each prevention act, more for
infant vaccines and fewer for covid, and less by the patients who follow advice least. Lab
results and vaccinations are meant to travel as HL7 messages; acts stay in the EHR, served
by the demo adapter.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from fmt_plugin.demo import catalog
from fmt_plugin.demo.records import Facility, LabReport, Observation, Vaccination
from fmt_plugin.model import Act, Patient
from fmt_plugin.rules.dates import add_months, completed_years
from fmt_plugin.rules.pack import RulePack, load_default_pack

#: How far back the history goes from the reference date.
HISTORY_MONTHS = 36
#: The day infants born since then get the ACWY vaccine instead of MenC (calendrier 2025).
ACWY_SCHEDULE_START = date(2025, 1, 1)
#: The day M'T dents switched from BDC to BDA.
DENTAL_REFORM = date(2025, 4, 1)
SOURCE = "demo"


@dataclass(frozen=True)
class PatientHistory:
    """What happened to one patient, each list oldest first."""

    lab_reports: tuple[LabReport, ...]
    vaccinations: tuple[Vaccination, ...]
    acts: tuple[Act, ...]


def generate_history(
    patients: Iterable[Patient],
    seed: int,
    reference_date: date,
    pack: RulePack | None = None,
) -> dict[str, PatientHistory]:
    """Each patient's history over the `HISTORY_MONTHS` up to `reference_date`, by id.

    `pack` (default: the shipped `fmt-2026`) decides who is eligible for which vaccine.
    """
    rules = pack or load_default_pack()
    return {
        patient.patient_id: patient_history(patient, seed, reference_date, rules)
        for patient in patients
    }


def patient_history(
    patient: Patient, seed: int, reference_date: date, pack: RulePack
) -> PatientHistory:
    """One patient's history; ValueError for a patient without a birth date."""
    timeline = _Timeline(patient, seed, reference_date, pack)
    for draw in _DRAWS:
        draw(timeline)
    return PatientHistory(
        lab_reports=tuple(sorted(timeline.reports, key=lambda r: r.observed)),
        vaccinations=tuple(sorted(timeline.vaccinations, key=lambda v: v.given)),
        acts=tuple(sorted(timeline.acts, key=lambda a: a.date)),
    )


class _Timeline:
    """One patient's records being drawn, and what the drawing needs to know of them."""

    def __init__(
        self, patient: Patient, seed: int, reference_date: date, pack: RulePack
    ) -> None:
        if patient.birth_date is None:
            raise ValueError(f"patient {patient.patient_id} has no birth date")
        self.patient = patient
        self.birth = patient.birth_date
        self.pack = pack
        self.rng = random.Random(f"demo-history-{seed}-{patient.patient_id}")  # noqa: S311
        self.start = add_months(reference_date, -HISTORY_MONTHS)
        self.end = reference_date
        #: The history's 12-month slices, oldest first; the last ends on the reference date.
        self.years = [
            (
                add_months(self.start, 12 * k) + timedelta(days=1),
                add_months(self.start, 12 * k + 12),
            )
            for k in range(HISTORY_MONTHS // 12)
        ]
        self.diabetic = 8 in patient.ald or any(
            c.startswith(("E10", "E11")) for c in patient.conditions
        )
        self.hypertensive = "I10" in patient.conditions or "hta" in patient.flags
        # How readily this patient follows advice: most do, a few hardly ever.
        self.adherence = self.rng.betavariate(2.5, 1.5)
        self.reports: list[LabReport] = []
        self.vaccinations: list[Vaccination] = []
        self.acts: list[Act] = []

    def likely(self, share: float) -> bool:
        """True with probability `share`, scaled by adherence (from ×0.4 to ×1.6)."""
        return self.rng.random() < share * (0.4 + 1.2 * self.adherence)

    def age(self, on: date) -> int:
        return completed_years(self.birth, on)

    def at_age(self, months: int, spread_days: int = 0) -> date:
        """The day the patient is `months` old, plus up to `spread_days` of delay."""
        return add_months(self.birth, months) + timedelta(
            days=self.rng.randrange(spread_days + 1)
        )

    def day_between(self, first: date, last: date) -> date:
        """A day drawn uniformly from `first` to `last`, both included."""
        return first + timedelta(days=self.rng.randrange((last - first).days + 1))

    def recorded(self, on: date) -> bool:
        return self.start < on <= self.end

    def observe(self, code: str) -> Observation:
        analyte = catalog.ANALYTES[code]
        shift = catalog.DIABETIC_SHIFTS.get(code, 0.0) if self.diabetic else 0.0
        # A corrected result now and then: it counts like a final one.
        status = "C" if self.rng.random() < 0.01 else "F"
        return analyte.observe(self.rng, shift=shift, status=status)

    def lab(self, on: date, observations: Sequence[Observation], panel: str) -> None:
        """A lab report observed on `on`, sent within two days (only if in the history)."""
        if not self.recorded(on):
            return
        observed = datetime.combine(
            on, time(self.rng.randrange(7, 12), self.rng.choice((0, 15, 30, 45)))
        )
        self.reports.append(
            LabReport(
                patient=self.patient,
                sender=self.rng.choice(catalog.LABS),
                observed=observed,
                sent=observed + timedelta(hours=self.rng.randrange(4, 48)),
                observations=tuple(observations),
                panel=panel,
            )
        )

    def vaccinate(
        self,
        on: date,
        cvx: str,
        senders: Sequence[Facility],
        *,
        transcribed_share: float = 0.0,
    ) -> None:
        """A vaccination given on `on`, reported by one of `senders`.

        One given before the history is reported only as a transcription of the vaccination
        booklet (RXA-9 "historique"), sent during the history, with `transcribed_share`.
        """
        if on > self.end:
            return
        historical = on <= self.start
        if historical:
            if self.rng.random() >= transcribed_share:
                return
            reported = self.day_between(self.start + timedelta(days=1), self.end)
        else:
            reported = on + timedelta(days=self.rng.choice((0, 0, 0, 1, 3)))
        self.vaccinations.append(
            Vaccination(
                patient=self.patient,
                sender=self.rng.choice(senders),
                given=on,
                sent=datetime.combine(reported, time(self.rng.randrange(9, 19), 0)),
                cvx=cvx,
                text=catalog.VACCINES[cvx],
                lot=f"LOT{self.rng.randrange(10**6):06d}",
                historical=historical,
                with_route=not historical and self.rng.random() < 0.5,
            )
        )

    def act(self, on: date, code: tuple[str, str]) -> None:
        """An act recorded in the EHR on `on` (if in the history)."""
        if self.recorded(on):
            system, value = code
            self.acts.append(Act(self.patient.patient_id, on, system, value, SOURCE))


_PHARMACY_OR_PRACTICE = (catalog.VACCINATORS[0], catalog.VACCINATORS[1])
_PMI_OR_PRACTICE = (catalog.VACCINATORS[0], catalog.VACCINATORS[2])


# --- adults: lab work -----------------------------------------------------------------------


def _routine_bloods(t: _Timeline) -> None:
    """A yearly check-up for some adults: glucose, lipids, blood count, kidney…"""
    for first, last in t.years:
        on = t.day_between(first, last)
        age = t.age(on)
        if age < 18 or not t.likely(0.13 if age < 40 else 0.2 if age < 60 else 0.27):
            continue
        codes: list[str] = []
        if age >= 35 or t.rng.random() < 0.5:
            codes.append(catalog.FASTING_GLUCOSE)
        if t.rng.random() < 0.7:
            codes.extend(catalog.LIPIDS)
        if t.rng.random() < 0.5:
            codes.extend(catalog.BLOOD_COUNT)
        if age >= 50 or t.rng.random() < 0.3:
            codes.extend(catalog.KIDNEY)
        if t.rng.random() < 0.2:
            codes.append(catalog.TSH)
        if t.diabetic:
            codes.append(catalog.HBA1C)
        t.lab(on, [t.observe(c) for c in codes or catalog.BLOOD_COUNT], "BILAN")


def _diabetes_follow_up(t: _Timeline) -> None:
    """HbA1c every three or four months when well followed, once or twice a year otherwise."""
    if not t.diabetic:
        return
    regular = t.likely(0.3)
    on = t.start + timedelta(days=t.rng.randrange(120))
    while on <= t.end:
        codes = (catalog.HBA1C, catalog.FASTING_GLUCOSE)
        t.lab(on, [t.observe(c) for c in codes], "HBA1C")
        gap = t.rng.randrange(85, 130) if regular else t.rng.randrange(240, 540)
        on += timedelta(days=gap)


def _kidney_checks(t: _Timeline) -> None:
    """The yearly kidney work-up of a diabetic or hypertensive patient (blood and urine)."""
    if not (t.diabetic or t.hypertensive or "risk:mrc" in t.patient.flags):
        return
    share = 0.5 if t.diabetic else 0.3
    for first, last in t.years:
        if t.likely(share):
            codes = (*catalog.KIDNEY, catalog.URINE_RATIO, *catalog.IONS)
            t.lab(
                t.day_between(first, last), [t.observe(c) for c in codes], "BILAN RENAL"
            )


# --- adults: cancer screening ---------------------------------------------------------------


def _screening_rounds(t: _Timeline, period_months: int) -> list[date]:
    """Candidate dates one screening period apart, the first within the first period."""
    on = t.start + timedelta(days=t.rng.randrange(period_months * 30))
    rounds = []
    while on <= t.end:
        rounds.append(on)
        on = add_months(on, period_months) + timedelta(days=t.rng.randrange(-30, 90))
    return rounds


def _colorectal_screening(t: _Timeline) -> None:
    """A FIT every two years for some 50–74s; a positive one leads to a colonoscopy."""
    for on in _screening_rounds(t, 24):
        if not 50 <= t.age(on) <= 74 or not t.likely(0.38):
            continue
        result = catalog.FIT.observe(t.rng)
        t.lab(on, [result], "DEPISTAGE COLORECTAL")
        if result.flag == "A" and t.rng.random() < 0.85:
            t.act(on + timedelta(days=t.rng.randrange(30, 90)), catalog.COLONOSCOPY)
    if t.age(t.end) >= 50 and t.rng.random() < 0.04:  # a colonoscopy for symptoms
        t.act(t.day_between(t.start, t.end), catalog.COLONOSCOPY)


def _breast_screening(t: _Timeline) -> None:
    """A mammography every two years for about half of the women aged 50–74."""
    if t.patient.sex != "F":
        return
    for on in _screening_rounds(t, 24):
        if 50 <= t.age(on) <= 74 and t.likely(0.48):
            t.act(on, catalog.MAMMOGRAPHY)


def _cervical_screening(t: _Timeline) -> None:
    """The last cervical test of women aged 25–65: cytology before 30, an HPV test after."""
    if t.patient.sex != "F" or not t.likely(0.5):
        return
    on = t.end - timedelta(days=t.rng.randrange(40 * 30))
    age = t.age(on)
    if not 25 <= age <= 65:
        return
    if age < 30:
        t.lab(on, [catalog.CERVICAL_CYTOLOGY.observe(t.rng)], "FROTTIS")
        if t.rng.random() < 0.3:  # the smear was taken at the practice
            t.act(on, catalog.CERVICAL_SMEAR)
    else:
        t.lab(on, [catalog.HPV_TEST.observe(t.rng)], "HPV")


# --- vaccination ----------------------------------------------------------------------------


def _seasonal_vaccines(t: _Timeline) -> None:
    """Flu and covid vaccines each autumn, for those the pack says are at risk (a few others)."""
    flu = t.pack.indicator("vacc_grippe").population
    covid = t.pack.indicator("vacc_covid").population
    flags = t.patient.flags
    for season in range(t.start.year - 1, t.end.year + 1):
        campaign = date(season, 10, 15)
        on = campaign + timedelta(days=int(t.rng.triangular(0, 110, 10)))
        old = t.age(on) >= 65
        share = 0.52 if old else 0.3 if flu.includes(t.patient, on) else 0.02
        if "ci:grippe" not in flags and t.age(on) >= 18 and t.likely(share):
            cvx = t.rng.choice(("168", "168", "197", "150")) if old else "150"
            t.vaccinate(on, cvx, _PHARMACY_OR_PRACTICE)
        on = campaign + timedelta(days=int(t.rng.triangular(0, 90, 5)))
        share = (
            0.32 if t.age(on) >= 65 else 0.15 if covid.includes(t.patient, on) else 0
        )
        if "ci:covid" not in flags and t.likely(share):
            t.vaccinate(on, "313" if season >= 2024 else "309", _PHARMACY_OR_PRACTICE)


def _pneumococcal_vaccine(t: _Timeline) -> None:
    """PCV20 once for some adults at risk; a few still got the old PCV13 + PPSV23 schedule."""
    population = t.pack.indicator("vacc_pneumo").population
    if not population.includes(t.patient, t.end) or "ci:pneumocoque" in t.patient.flags:
        return
    on = t.day_between(t.start, t.end)
    if t.likely(0.35):
        t.vaccinate(on, "216", _PHARMACY_OR_PRACTICE)
    elif t.rng.random() < 0.2:
        t.vaccinate(on, "133", _PHARMACY_OR_PRACTICE)
        t.vaccinate(add_months(on, 2), "33", _PHARMACY_OR_PRACTICE)


def _infant_vaccines(t: _Timeline) -> None:
    """The infant schedule: hexavalent, PCV13, MenB, ROR, and MenC or (from 2025) ACWY."""
    if t.age(t.end) >= 4:
        return
    for months, cvx, share in (
        (2, "146", 0.85), (4, "146", 0.85), (11, "146", 0.8),
        (2, "133", 0.85), (4, "133", 0.85), (11, "133", 0.8),
        (3, "163", 0.7), (5, "163", 0.7), (12, "163", 0.65),
    ):  # fmt: skip
        if t.likely(share):
            t.vaccinate(t.at_age(months, 20), cvx, _PMI_OR_PRACTICE)
    if t.likely(0.82):
        t.vaccinate(t.at_age(12, 45), "03", _PMI_OR_PRACTICE)
        if t.likely(0.75):
            t.vaccinate(t.at_age(16, 60), "03", _PMI_OR_PRACTICE)
    six_months = t.at_age(6, 20)
    if six_months >= ACWY_SCHEDULE_START:
        if t.likely(0.75):
            t.vaccinate(six_months, "108", _PMI_OR_PRACTICE)
    elif t.likely(0.75):
        t.vaccinate(t.at_age(5, 20), "103", _PMI_OR_PRACTICE)
    booster = t.at_age(12, 30)
    if t.likely(0.7):
        t.vaccinate(
            booster,
            "108" if booster >= ACWY_SCHEDULE_START else "103",
            _PMI_OR_PRACTICE,
        )


def _adolescent_vaccines(t: _Timeline) -> None:
    """HPV (two doses six months apart) and the dTcaP booster, from 11 years old.

    Doses given before the history mostly reach the store as booklet transcriptions.
    """
    if not 10 <= t.age(t.end) <= 17:
        return
    senders = _PHARMACY_OR_PRACTICE
    if t.likely(0.6 if t.patient.sex == "F" else 0.45):
        # Mostly at 11, some later (catch-up until 14).
        first = t.at_age(11 * 12) + timedelta(days=int(t.rng.triangular(0, 900, 60)))
        second = add_months(first, 6) + timedelta(days=t.rng.randrange(60))
        t.vaccinate(first, "165", senders, transcribed_share=0.7)
        if t.likely(0.8):
            t.vaccinate(second, "165", senders, transcribed_share=0.7)
    if t.likely(0.6):
        t.vaccinate(t.at_age(11 * 12, 24 * 30), "115", senders, transcribed_share=0.7)


# --- children: EHR acts ---------------------------------------------------------------------


def _child_exams(t: _Timeline) -> None:
    """The compulsory child exams (COE); the 9th- and 24th-month ones are the indicators'."""
    if t.age(t.end) >= 4:
        return
    for months in (1, 2, 4, 6, 12, 16):
        if t.likely(0.75):
            t.act(t.at_age(months, 10), catalog.CHILD_EXAM)
    for months, form, share in (
        (9, catalog.EXAM_9TH_MONTH, 0.62),
        (24, catalog.EXAM_24TH_MONTH, 0.55),
    ):
        if t.likely(share):
            on = add_months(t.birth, months) + timedelta(days=t.rng.randrange(-15, 30))
            t.act(on, catalog.CHILD_EXAM)
            if t.rng.random() < 0.4:  # the EHR's structured form was filled in as well
                t.act(on, form)


def _dental_exams(t: _Timeline) -> None:
    """M'T dents, once a year for some of the 3–24-year-olds."""
    for first, last in t.years:
        on = t.day_between(first, last)
        if 3 <= t.age(on) <= 24 and t.likely(0.38):
            code = (
                catalog.DENTAL_EXAM if on >= DENTAL_REFORM else catalog.DENTAL_EXAM_OLD
            )
            t.act(on, code)


def _consultations(t: _Timeline) -> None:
    """Everyday consultations (and an ECG now and then) that no indicator reads."""
    for first, last in t.years:
        visits = t.rng.choice((0, 1, 1, 2, 2, 3, 4)) + (t.age(last) >= 70)
        for _ in range(visits):
            t.act(t.day_between(first, last), catalog.CONSULTATION)
        if t.age(last) >= 50 and t.rng.random() < 0.1:
            t.act(t.day_between(first, last), catalog.ECG)


_DRAWS = (
    _routine_bloods,
    _diabetes_follow_up,
    _kidney_checks,
    _colorectal_screening,
    _breast_screening,
    _cervical_screening,
    _seasonal_vaccines,
    _pneumococcal_vaccine,
    _infant_vaccines,
    _adolescent_vaccines,
    _child_exams,
    _dental_exams,
    _consultations,
)
