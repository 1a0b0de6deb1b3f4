"""The codes the synthetic practice uses: lab analytes, vaccines, EHR acts, senders.

Codes the `fmt-2026` rule pack reads (HbA1c, fasting glucose, renal tests, FIT, HPV test,
flu/covid/pneumococcal/ROR/ACWY/HPV vaccines, mammography, COE…) sit beside everyday ones it
ignores (lipids, blood count, hexavalent vaccine, consultations), as in a real record.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from fmt_plugin.demo.records import Facility, Observation


@dataclass(frozen=True)
class Analyte:
    """A LOINC-coded numeric lab result, its values drawn around `mean`."""

    loinc: str
    text: str
    unit: str
    mean: float
    sd: float
    decimals: int
    low: float
    high: float

    def draw(self, rng: random.Random, shift: float = 0.0) -> float:
        """A plausible value: normal around `mean + shift`, never below the last decimal."""
        value = rng.gauss(self.mean + shift, self.sd)
        return round(max(value, 0.1**self.decimals), self.decimals)

    def observe(
        self, rng: random.Random, *, shift: float = 0.0, status: str = "F"
    ) -> Observation:
        """A drawn result with its H/L/N flag; status `X` (not obtained) has no value."""
        value = "" if status == "X" else f"{self.draw(rng, shift):.{self.decimals}f}"
        flag = ""
        if value:
            number = float(value)
            flag = "H" if number > self.high else "L" if number < self.low else "N"
        return Observation(
            code=self.loinc,
            text=self.text,
            value=value,
            unit=self.unit,
            reference_range=f"{self.low:g}-{self.high:g}",
            flag=flag,
            status=status,
        )


@dataclass(frozen=True)
class QualitativeTest:
    """A LOINC-coded test whose result is a word (negative or positive)."""

    loinc: str
    text: str
    abnormal_share: float

    def observe(self, rng: random.Random) -> Observation:
        """A drawn result, abnormal (flag A) with probability `abnormal_share`."""
        abnormal = rng.random() < self.abnormal_share
        return Observation(
            code=self.loinc,
            text=self.text,
            value="Positif" if abnormal else "Negatif",
            value_type="ST",
            flag="A" if abnormal else "N",
        )


# fmt: off
ANALYTES = {a.loinc: a for a in (
    Analyte("4548-4", "HbA1c", "%", 5.6, 0.5, 1, 4.0, 6.0),
    Analyte("1558-6", "Glucose a jeun", "g/L", 0.95, 0.12, 2, 0.70, 1.10),
    Analyte("14682-9", "Creatinine", "umol/L", 80.0, 18.0, 0, 45.0, 104.0),
    Analyte("62238-1", "DFG CKD-EPI", "mL/min/{1.73_m2}", 88.0, 18.0, 0, 60.0, 200.0),
    Analyte("14959-1", "Albumine/creatinine urinaire", "mg/g", 12.0, 9.0, 1, 0.0, 30.0),
    Analyte("2093-3", "Cholesterol total", "g/L", 2.0, 0.35, 2, 1.5, 2.4),
    Analyte("2085-9", "Cholesterol HDL", "g/L", 0.55, 0.12, 2, 0.40, 1.0),
    Analyte("13457-7", "Cholesterol LDL calcule", "g/L", 1.30, 0.35, 2, 0.5, 1.6),
    Analyte("2571-8", "Triglycerides", "g/L", 1.20, 0.45, 2, 0.35, 1.50),
    Analyte("718-7", "Hemoglobine", "g/dL", 13.8, 1.3, 1, 12.0, 17.0),
    Analyte("6690-2", "Leucocytes", "10*9/L", 7.0, 1.8, 2, 4.0, 10.0),
    Analyte("777-3", "Plaquettes", "10*9/L", 250.0, 55.0, 0, 150.0, 400.0),
    Analyte("3016-3", "TSH", "mU/L", 1.8, 0.9, 2, 0.4, 4.0),
    Analyte("2951-2", "Sodium", "mmol/L", 140.0, 2.5, 0, 136.0, 145.0),
    Analyte("2823-3", "Potassium", "mmol/L", 4.3, 0.4, 1, 3.5, 5.0),
)}
# fmt: on

#: How much higher a diabetic's HbA1c and fasting glucose run.
DIABETIC_SHIFTS = {"4548-4": 1.6, "1558-6": 0.35}

HPV_TEST = QualitativeTest("21440-3", "HPV haut risque (ADN) col uterin", 0.08)
CERVICAL_CYTOLOGY = QualitativeTest("10524-7", "Cytologie cervico-uterine", 0.04)
FIT = QualitativeTest("29771-3", "Sang occulte fecal (test immunologique)", 0.04)

#: Analytes of the everyday panels, by panel name (OBR-4).
LIPIDS = ("2093-3", "2085-9", "13457-7", "2571-8")
BLOOD_COUNT = ("718-7", "6690-2", "777-3")
KIDNEY = ("14682-9", "62238-1")
IONS = ("2951-2", "2823-3")
URINE_RATIO = "14959-1"
HBA1C = "4548-4"
FASTING_GLUCOSE = "1558-6"
TSH = "3016-3"

# fmt: off
#: CVX code → the text sent beside it (RXA-5).
VACCINES = {
    "03": "MMR", "108": "Meningococcal ACWY", "103": "Meningococcal C conjugate",
    "146": "DTaP-IPV-Hib-HepB", "133": "PCV13", "163": "MenB", "165": "HPV9",
    "115": "Tdap", "113": "Td", "150": "Influenza quadrivalent",
    "168": "Influenza adjuvanted", "197": "Influenza high-dose", "309": "COVID-19 mRNA",
    "313": "COVID-19 mRNA 2024-2025", "216": "PCV20", "187": "Zoster recombinant",
    "33": "PPSV23",
}

LABS: tuple[Facility, ...] = (
    ("LABO", "BIOLAB"), ("LABO", "LABOSUD"), ("SIL", "CHU-NORD"), ("LABO", "BIO-OUEST"),
)
VACCINATORS: tuple[Facility, ...] = (
    ("LGC", "CABINET"), ("PHARMA", "PHARMACIE-GARE"), ("PMI", "PMI-CENTRE"),
)
# fmt: on

#: EHR acts, as (system, code).
MAMMOGRAPHY = ("CCAM", "QEQK004")
CERVICAL_SMEAR = ("CCAM", "JKQX001")
COLONOSCOPY = ("CCAM", "HHQE002")
CHILD_EXAM = ("NGAP", "COE")
EXAM_9TH_MONTH = ("EVENT", "exam:9e_mois")
EXAM_24TH_MONTH = ("EVENT", "exam:24e_mois")
#: M'T dents: BDC until March 2025, BDA since the April 2025 reform.
DENTAL_EXAM_OLD = ("NGAP", "BDC")
DENTAL_EXAM = ("NGAP", "BDA")
CONSULTATION = ("NGAP", "G")
ECG = ("CCAM", "DEQP003")
