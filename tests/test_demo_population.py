"""The demo's synthetic patientèle: reproducible, and shaped like a French GP's list."""

from __future__ import annotations

from datetime import date

import pytest

from fmt_plugin.demo.population import generate_population
from fmt_plugin.ins import check_ins
from fmt_plugin.model import Patient
from fmt_plugin.rules.dates import completed_months, completed_years

REFERENCE = date(2026, 3, 15)


@pytest.fixture(scope="module")
def patients() -> list[Patient]:
    return generate_population(1500, seed=2026, reference_date=REFERENCE)


def share(patients: list[Patient], predicate) -> float:
    return sum(1 for p in patients if predicate(p)) / len(patients)


def age(patient: Patient) -> int:
    assert patient.birth_date is not None
    return completed_years(patient.birth_date, REFERENCE)


def test_same_seed_same_patients():
    """Two draws with the same seed and date are equal, field by field."""
    first = generate_population(50, seed=7, reference_date=REFERENCE)
    second = generate_population(50, seed=7, reference_date=REFERENCE)
    assert [p.to_dict() for p in first] == [p.to_dict() for p in second]


def test_other_seed_other_patients():
    """Another seed gives other people."""
    first = generate_population(50, seed=7, reference_date=REFERENCE)
    other = generate_population(50, seed=8, reference_date=REFERENCE)
    assert [p.ins for p in first] != [p.ins for p in other]


def test_larger_draw_extends_smaller_one():
    """The first n patients do not depend on how many are drawn."""
    small = generate_population(40, seed=3, reference_date=REFERENCE)
    large = generate_population(60, seed=3, reference_date=REFERENCE)
    assert [p.to_dict() for p in large[:40]] == [p.to_dict() for p in small]


def test_ids_and_ins_are_unique_and_valid(patients):
    """Every patient has a distinct id and a distinct INS whose key checks."""
    assert len({p.patient_id for p in patients}) == len(patients)
    assert len({p.ins for p in patients}) == len(patients)
    assert all(p.ins is not None and check_ins(p.ins) == p.ins for p in patients)


def test_age_pyramid_includes_children_and_elderly(patients):
    """About a fifth are minors, a fifth 65 or older, and every decade is present."""
    assert 0.15 <= share(patients, lambda p: age(p) < 18) <= 0.26
    assert 0.16 <= share(patients, lambda p: age(p) >= 65) <= 0.30
    assert {min(age(p) // 10, 9) for p in patients} == set(range(10))


def test_enough_young_children_for_the_child_indicators(patients):
    """Some 20 or more children are under 3 (ROR, ACWY, 9th- and 24th-month exams)."""
    young = [p for p in patients if completed_months(p.birth_date, REFERENCE) < 36]
    assert len(young) >= 20


def test_sex_ratio(patients):
    """A little over half are women."""
    assert 0.48 <= share(patients, lambda p: p.sex == "F") <= 0.57


def test_ald_prevalence_rises_with_age(patients):
    """About 17 % are in ALD overall, many more among the over-70s than the under-40s."""
    assert 0.13 <= share(patients, lambda p: p.ald) <= 0.21
    old = [p for p in patients if age(p) >= 70]
    young = [p for p in patients if age(p) < 40]
    assert share(old, lambda p: p.ald) > 3 * share(young, lambda p: p.ald)


def test_diabetes_prevalence(patients):
    """About 6 % are diabetic (ALD 8 or E10/E11), most of them in ALD 8."""
    diabetic = [p for p in patients if 8 in p.ald or {"E11.9", "E10.9"} & p.conditions]
    assert 0.045 <= len(diabetic) / len(patients) <= 0.08
    assert share(diabetic, lambda p: 8 in p.ald) >= 0.7


def test_most_adults_have_an_mssante_address(patients):
    """Mon espace santé: most adults have a patient MSSanté address, minors none."""
    adults = [p for p in patients if age(p) >= 18]
    assert share(adults, lambda p: p.mssante) >= 0.75
    assert not any(p.mssante for p in patients if age(p) < 18)


def test_a_few_objections(patients):
    """A handful of patients object to recalls (RGPD opposition)."""
    assert 1 <= sum(p.opposition for p in patients) <= 25


def test_about_one_patient_in_ten_has_the_c2s(patients):
    """About 10 % have the Complémentaire santé solidaire."""
    assert 0.07 <= share(patients, lambda p: p.c2s) <= 0.13


def test_c2s_is_drawn_from_the_seed():
    """The same seed gives the same patients with the C2S."""
    first = [p.patient_id for p in generate_population(300, seed=7) if p.c2s]
    again = [p.patient_id for p in generate_population(300, seed=7) if p.c2s]
    assert first == again
