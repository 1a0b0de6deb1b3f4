"""A synthetic patientèle médecin traitant: age pyramid, sex ratio, ALD, conditions, contacts.

`generate_population(count, seed, reference_date)` gives the same patients for the same
arguments, and its first `n` patients do not depend on `count` (each patient is drawn in
turn from one stream), so a larger draw extends a smaller one: the demo uses the extra
patients as people the practice does not know.

The shares are those of a French GP's list, rounded: children included (a médecin traitant
may be declared from birth), a little over half women, more with age; about 17 % of patients
in ALD, rising with age; type 2 diabetes in about 6 % (most in ALD 8, coded E11.9);
hypertension in a quarter of the over-50s; a few exclusion histories (hysterectomy, cancers,
IBD, chronic kidney disease), risk flags, objections; an MSSanté address for most adults.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import date, timedelta

from fmt_plugin.accents import without_accents
from fmt_plugin.demo.identity import draw_ins, draw_names
from fmt_plugin.model import Patient, Sex
from fmt_plugin.rules.dates import completed_years

SOURCE = "demo"
DEFAULT_SEED = 2026
DEFAULT_PATIENTS = 1500
#: The share of demo patients with the Complémentaire santé solidaire (about one in ten).
C2S_SHARE = 0.10

# fmt: off
#: (first age, last age, weight) of 5-year bands: France's pyramid, young adults a little
#: under-represented (fewer of them declare a médecin traitant).
AGE_BANDS = (
    (0, 4, 5.0), (5, 9, 5.6), (10, 14, 6.0), (15, 19, 5.4), (20, 24, 4.6), (25, 29, 5.0),
    (30, 34, 5.8), (35, 39, 6.2), (40, 44, 6.3), (45, 49, 6.3), (50, 54, 6.8),
    (55, 59, 6.8), (60, 64, 6.5), (65, 69, 6.1), (70, 74, 5.8), (75, 79, 4.7),
    (80, 84, 3.1), (85, 89, 2.1), (90, 94, 0.9), (95, 99, 0.3),
)
# fmt: on
_BAND_CUM_WEIGHTS = list(itertools.accumulate(w for _, _, w in AGE_BANDS))

#: ALDs other than diabetes, weighted like the Assurance Maladie's counts (cancers first).
OTHER_ALDS = (
    (30, 30.0),  # tumeur maligne
    (5, 12.0),  # insuffisance cardiaque, troubles du rythme
    (23, 12.0),  # affections psychiatriques de longue durée
    (13, 10.0),  # maladie coronaire
    (3, 6.0),  # artériopathies chroniques
    (14, 5.0),  # insuffisance respiratoire chronique
    (15, 4.0),  # maladie d'Alzheimer
    (22, 3.0),  # polyarthrite rhumatoïde
    (16, 3.0),  # maladie de Parkinson
    (9, 3.0),  # épilepsie grave
    (19, 2.0),  # néphropathie chronique grave
    (24, 2.0),  # maladie de Crohn, rectocolite hémorragique
    (6, 2.0),  # maladies chroniques du foie
    (25, 1.0),  # sclérose en plaques
)
_ALD_NUMBERS = [number for number, _ in OTHER_ALDS]
_ALD_CUM_WEIGHTS = list(itertools.accumulate(w for _, w in OTHER_ALDS))

#: The CIM-10 code an EHR records beside some ALDs (cancer sites by sex).
_ALD_CONDITIONS: dict[int, dict[Sex, tuple[str, ...]]] = {
    30: {"F": ("C50", "C50", "C18", "C34", "C54"), "M": ("C61", "C61", "C18", "C34")},
    19: {"F": ("N18.4",), "M": ("N18.4",)},
    24: {"F": ("K50", "K51"), "M": ("K50", "K51")},
}


def generate_population(
    count: int,
    seed: int = DEFAULT_SEED,
    reference_date: date = date(2026, 3, 15),
    *,
    source: str = SOURCE,
) -> list[Patient]:
    """`count` patients with distinct valid INS and ids `P000001`…, aged on `reference_date`."""
    rng = random.Random(f"demo-population-{seed}")  # noqa: S311  # synthetic, reproducible
    # Its own stream, so that adding the C2S left every other drawn value as it was.
    c2s_rng = random.Random(f"demo-c2s-{seed}")  # noqa: S311  # synthetic, reproducible
    used_ins: set[str] = set()
    return [
        dataclasses.replace(
            _patient(rng, index, reference_date, used_ins, source),
            c2s=c2s_rng.random() < C2S_SHARE,
        )
        for index in range(1, count + 1)
    ]


def _patient(
    rng: random.Random,
    index: int,
    reference_date: date,
    used_ins: set[str],
    source: str,
) -> Patient:
    first, last, _ = rng.choices(AGE_BANDS, cum_weights=_BAND_CUM_WEIGHTS)[0]
    age_days = rng.randrange(first * 365, (last + 1) * 365)
    birth = reference_date - timedelta(days=age_days + 1)
    age = completed_years(birth, reference_date)
    sex: Sex = "F" if rng.random() < _women_share(age) else "M"
    nom, prenom = draw_names(rng, sex)
    ins = draw_ins(rng, sex, birth, used_ins)
    ald, conditions, flags = _clinical_profile(rng, age, sex)
    adult = age >= 18
    email = None
    if rng.random() < (0.55 if adult else 0.3):
        email = f"{without_accents(prenom)}.{without_accents(nom)}{index}@example.org"
    return Patient(
        patient_id=f"P{index:06d}",
        source=source,
        ins=ins,
        nom=nom,
        prenom=prenom,
        birth_date=birth,
        sex=sex,
        ald=frozenset(ald),
        conditions=frozenset(conditions),
        flags=frozenset(flags),
        opposition=rng.random() < 0.006,
        # Mon espace santé opens a mailbox for everyone who did not object to it.
        mssante=f"{ins}@patient.mssante.fr" if adult and rng.random() < 0.85 else None,
        email=email.lower() if email else None,
        telephone=f"0{rng.choice('67')}{rng.randrange(10**8):08d}"
        if rng.random() < 0.8
        else None,
    )


def _women_share(age: int) -> float:
    """Women outlive men: about even before 50, nearly three in four at 90."""
    if age < 50:
        return 0.49
    if age < 70:
        return 0.52
    if age < 80:
        return 0.56
    if age < 90:
        return 0.64
    return 0.72


def _by_age(age: int, shares: tuple[tuple[int, float], ...]) -> float:
    """The share of the last `(from age, share)` step that `age` reached."""
    found = 0.0
    for start, share in shares:
        if age >= start:
            found = share
    return found


#: Diabetes (type 1 in children, type 2 after), other ALDs and hypertension, by age.
_DIABETES = ((0, 0.003), (18, 0.016), (45, 0.078), (65, 0.15), (75, 0.18))
_OTHER_ALD = ((0, 0.02), (18, 0.045), (40, 0.10), (60, 0.20), (70, 0.30), (80, 0.42))
_HYPERTENSION = ((18, 0.03), (40, 0.10), (50, 0.25), (65, 0.42), (75, 0.55))


def _clinical_profile(
    rng: random.Random, age: int, sex: Sex
) -> tuple[set[int], set[str], set[str]]:
    """ALD numbers, CIM-10 conditions and flags of one patient."""
    ald: set[int] = set()
    conditions: set[str] = set()
    flags: set[str] = set()
    if rng.random() < _by_age(age, _DIABETES):
        conditions.add("E11.9" if age >= 18 else "E10.9")
        # Not every diabetic has asked for the ALD; a child with type 1 always has it.
        if age < 18 or rng.random() < 0.85:
            ald.add(8)
    if rng.random() < _by_age(age, _OTHER_ALD):
        number = rng.choices(_ALD_NUMBERS, cum_weights=_ALD_CUM_WEIGHTS)[0]
        ald.add(number)
        sites = _ALD_CONDITIONS.get(number, {}).get(sex)
        if sites and rng.random() < 0.8:
            conditions.add(rng.choice(sites))
    if rng.random() < _by_age(age, _HYPERTENSION):
        # Some records only tick a box instead of coding I10.
        if rng.random() < 0.05:
            flags.add("hta")
        else:
            conditions.add("I10")
    if sex == "F" and age >= 40 and rng.random() < 0.06:
        conditions.add("Z90.71")  # hysterectomy: no more cervical screening
    if age >= 50 and rng.random() < 0.03 and ("I10" in conditions or 8 in ald):
        conditions.add("N18.3")  # known chronic kidney disease
    _draw_flags(rng, age, flags)
    return ald, conditions, flags


def _draw_flags(rng: random.Random, age: int, flags: set[str]) -> None:
    """Risk flags (asthma, obesity, pregnancy…) and contraindications the EHR records."""
    if age < 18:
        return
    for flag, share in (
        ("risk:grippe", 0.04 if age < 65 else 0.0),
        ("risk:covid", 0.02 if age < 65 else 0.0),
        ("risk:pneumocoque", 0.015),
        ("risk:mrc", 0.01),
        ("ci:grippe", 0.003),
        ("ci:covid", 0.004),
    ):
        if rng.random() < share:
            flags.add(flag)
