"""A synthetic practice for the HL7 benchmarks: a roster CSV and HL7 v2.5 messages about it.

Everything is drawn from `random.Random(seed)`, so the same seed gives byte-identical files.

- **Roster**: the CSV of the built-in `csv_roster` adapter (header `ROSTER_COLUMNS`). Every
  patient has a valid 15-character matricule INS (NIR + key, checked with
  `fmt_plugin.ins.check_ins`), a birth date, a sex, and, for some, ALD 8 / diabetes,
  hypertension, risk flags, an MSSanté address, an email and a phone number. About 5 % of the
  patients have an accented name (`LEFÈVRE`, `HÉLÈNE`…).
- **Messages**: about 70 % `ORU^R01^ORU_R01` (one OBR and 1–6 NM OBX with LOINC codes: HbA1c
  4548-4, fasting glucose 1558-6, creatinine 14682-9, eGFR, lipids, blood count, TSH…) and
  about 30 % `VXU^V04^VXU_V04` (ORC + RXA with a CVX code chosen by the patient's age). The
  shape is that of `tests/data/public_scenario/messages/*.hl7`: segments separated by `\\r`,
  MSH-12 `2.5`, MSH-15/16 `AL`/`NE` (or empty: `ack_types`), MSH-18 `UNICODE UTF-8`, PID-3
  `<INS>^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS~<patient_id>^^^CABINET&…^PI`, and a
  unique MSH-10 per message (`B<seed>N<index>`). Messages are UTF-8 bytes; those about a
  patient with an accented name are not ASCII.

Use it from another script:

    patients = generate_patients(2000, seed=2026)
    write_roster(path / "roster.csv", patients)
    messages = generate_messages(5000, patients, seed=2026)
    write_messages_file(path / "messages.hl7", messages)  # MLLP-framed, see below

Or from the shell: `python bench/hl7_messages.py OUT_DIR --patients 2000 --messages 5000`.

**Message files** are MLLP-framed by default (`0x0B` + message + `0x1C 0x0D`, one frame after
the other, nothing in between): a frame cannot be confused with a segment, whatever the
separators inside. `framing="lines"` writes the messages one after the other separated by
`\\r\\n` instead (segments still end with `\\r`), the shape of many lab export files.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from fmt_plugin.adapters.csv_roster import ROSTER_COLUMNS
from fmt_plugin.ins import check_ins

DEFAULT_AS_OF = date(2026, 3, 15)
#: MSH-7 of the first message; each next message is 2 s later.
DEFAULT_START = datetime(2026, 3, 15, 8, 0, 0)  # noqa: DTZ001 (HL7 local time, no zone)
ORU_SHARE = 0.70
#: Share of patients with an accented surname, and with an accented first name.
ACCENTED_SURNAME_SHARE = 0.02
ACCENTED_FIRST_NAME_SHARE = 0.03

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\r"

#: MSH-15 and MSH-16: enhanced mode, accept ACK always, no application ACK (the sample's).
ENHANCED_ACK_TYPES = ("AL", "NE")
#: Both empty: original acknowledgement mode.
ORIGINAL_ACK_TYPES = ("", "")

INS_AUTHORITY = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO"
PRACTICE_AUTHORITY = "CABINET&1.2.250.1.999.1&ISO"

Sex = Literal["F", "M"]
Framing = Literal["mllp", "lines"]


@dataclass(frozen=True)
class RosterPatient:
    """One row of the roster CSV."""

    patient_id: str
    ins: str
    nom: str
    prenom: str
    birth_date: date
    sex: Sex
    ald: tuple[int, ...] = ()
    conditions: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    opposition: bool = False
    mssante: str = ""
    email: str = ""
    telephone: str = ""

    def age(self, on: date) -> int:
        """Completed years on `on`."""
        before_birthday = (on.month, on.day) < (
            self.birth_date.month,
            self.birth_date.day,
        )
        return on.year - self.birth_date.year - before_birthday

    @property
    def diabetic(self) -> bool:
        return 8 in self.ald or "E11.9" in self.conditions


# --- names and places ------------------------------------------------------------------------

# fmt: off
SURNAMES = (
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS",
    "MOREAU", "LAURENT", "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID",
    "BERTRAND", "MOREL", "FOURNIER", "GIRARD", "BONNET", "DUPONT", "LAMBERT", "FONTAINE",
    "ROUSSEAU", "VINCENT", "MULLER", "FAURE", "ANDRE", "MERCIER", "BLANC", "GUERIN",
    "BOYER", "GARNIER", "CHEVALIER", "FRANCOIS", "LEGRAND", "GAUTHIER", "GARCIA", "PERRIN",
    "ROBIN", "CLEMENT", "MORIN", "NICOLAS", "HENRY", "ROUSSEL", "MATHIEU", "MASSON",
    "MARCHAND", "DUVAL", "DENIS", "LEMAIRE", "NOEL", "MEYER", "DUFOUR", "MEUNIER",
    "BRUN", "BLANCHARD", "GIRAUD", "JOLY", "RIVIERE", "LUCAS", "BRUNET", "GAILLARD",
)
ACCENTED_SURNAMES = (
    "LEFÈVRE", "DUPRÉ", "BÉRANGER", "FRANÇOIS", "MÉNARD", "HÉBERT", "GUÉRIN", "CÔTÉ",
    "RIVIÈRE", "BRÉMOND", "NOËL", "FÉVRIER",
)
FIRST_NAMES: dict[Sex, tuple[str, ...]] = {
    "F": (
        "MARIE", "NATHALIE", "ISABELLE", "SYLVIE", "CATHERINE", "SOPHIE", "CHRISTINE",
        "SANDRINE", "MONIQUE", "NICOLE", "CAMILLE", "EMMA", "LEA", "CHLOE", "MANON",
        "JULIE", "LAURA", "SARAH", "INES", "JEANNE", "LOUISE", "ALICE", "ODILE", "ANNE",
    ),
    "M": (
        "JEAN", "PIERRE", "MICHEL", "PHILIPPE", "ALAIN", "NICOLAS", "CHRISTOPHE",
        "PATRICK", "DAVID", "LOUIS", "GABRIEL", "LEO", "RAPHAEL", "ARTHUR", "LUCAS",
        "HUGO", "THOMAS", "PAUL", "YVES", "ROGER", "FRANCK", "BERNARD", "MARC", "HENRI",
    ),
}
ACCENTED_FIRST_NAMES: dict[Sex, tuple[str, ...]] = {
    "F": ("HÉLÈNE", "CÉLINE", "FRANÇOISE", "ANAÏS", "MÉLANIE", "CHLOÉ", "LÉA", "AGNÈS"),
    "M": ("JÉRÔME", "CLÉMENT", "FRANÇOIS", "NOÉ", "RAPHAËL", "JOËL", "THÉO", "ANDRÉ"),
}

#: Départements of birth (metropolitan, Corsica as 2A/2B); 99 is "born abroad".
DEPARTMENTS = (*(f"{n:02d}" for n in range(1, 96) if n != 20), "2A", "2B", "99")

#: (age from, weight) of 10-year bands, roughly France's pyramid.
AGE_BANDS = (
    (0, 10.6), (10, 12.1), (20, 11.3), (30, 12.1), (40, 12.4), (50, 13.1),
    (60, 12.2), (70, 9.8), (80, 4.9), (90, 1.5),
)
# fmt: on


# --- lab results and vaccines ---------------------------------------------------------------


@dataclass(frozen=True)
class Analyte:
    """A LOINC-coded numeric lab result, with a value drawn around `mean`."""

    loinc: str
    text: str
    unit: str
    mean: float
    sd: float
    decimals: int
    low: float
    high: float

    def draw(self, rng: random.Random, shift: float = 0.0) -> float:
        value = rng.gauss(self.mean + shift, self.sd)
        return round(max(value, 0.1**self.decimals), self.decimals)


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

#: (panel, weight for a non-diabetic, weight for a diabetic): 1–5 analytes each.
PANELS = (
    (("4548-4", "1558-6", "14682-9", "62238-1", "14959-1"), 2.0, 30.0),
    (("4548-4",), 3.0, 30.0),
    (("2093-3", "2085-9", "13457-7", "2571-8", "1558-6"), 20.0, 10.0),
    (("718-7", "6690-2", "777-3"), 20.0, 8.0),
    (("14682-9", "62238-1", "2951-2", "2823-3"), 15.0, 10.0),
    (("3016-3",), 12.0, 3.0),
    (("1558-6",), 15.0, 5.0),
    (("14682-9",), 8.0, 4.0),
)

#: OBX-11: mostly final, some preliminary, corrected, cannot be obtained.
RESULT_STATUSES = (("F", 93.0), ("P", 4.0), ("C", 2.0), ("X", 1.0))
_STATUSES = [status for status, _ in RESULT_STATUSES]
_STATUS_CUM_WEIGHTS = list(itertools.accumulate(w for _, w in RESULT_STATUSES))

#: (min age, max age, CVX, text, weight) of the vaccines sent in VXU messages.
VACCINES = (
    (0, 1, "146", "DTaP-IPV-Hib-HepB", 30.0),
    (0, 1, "133", "PCV13", 20.0),
    (0, 1, "163", "MenB", 15.0),
    (0, 2, "03", "MMR", 15.0),
    (0, 2, "108", "Meningococcal ACWY", 10.0),
    (11, 14, "165", "HPV9", 40.0),
    (11, 14, "115", "Tdap", 10.0),
    (15, 64, "150", "Influenza quadrivalent", 20.0),
    (15, 64, "309", "COVID-19 mRNA", 10.0),
    (15, 64, "115", "Tdap", 8.0),
    (25, 64, "113", "Td", 6.0),
    (65, 120, "168", "Influenza adjuvanted", 30.0),
    (65, 120, "197", "Influenza high-dose", 10.0),
    (65, 120, "309", "COVID-19 mRNA", 20.0),
    (65, 120, "216", "PCV20", 8.0),
    (65, 120, "187", "Zoster recombinant", 6.0),
)

LABS = (("LABO", "BIOLAB"), ("LABO", "LABOSUD"), ("SIL", "CHU-NORD"), ("LABO", "BIO-OUEST"))
VACCINATORS = (("LGC", "CABINET"), ("PHARMA", "PHARMACIE-GARE"), ("PMI", "PMI-CENTRE"))
# fmt: on


# --- the roster -----------------------------------------------------------------------------


def generate_patients(
    n: int, seed: int, *, as_of: date = DEFAULT_AS_OF
) -> list[RosterPatient]:
    """`n` patients with distinct valid INS, ids `P000001`…; the same seed, the same list."""
    rng = random.Random(f"patients-{seed}")  # noqa: S311  # synthetic, reproducible
    bands = [band for band, _ in AGE_BANDS]
    cum_weights = list(itertools.accumulate(weight for _, weight in AGE_BANDS))
    used_ins: set[str] = set()
    patients = []
    for index in range(1, n + 1):
        sex: Sex = "F" if rng.random() < 0.51 else "M"
        band = rng.choices(bands, cum_weights=cum_weights)[0]
        age_days = rng.randrange(band * 365, (band + 10) * 365)
        birth = as_of - timedelta(days=age_days + 1)
        ins = _draw_ins(rng, sex, birth, used_ins)
        nom = (
            rng.choice(ACCENTED_SURNAMES)
            if rng.random() < ACCENTED_SURNAME_SHARE
            else rng.choice(SURNAMES)
        )
        prenom = (
            rng.choice(ACCENTED_FIRST_NAMES[sex])
            if rng.random() < ACCENTED_FIRST_NAME_SHARE
            else rng.choice(FIRST_NAMES[sex])
        )
        age = as_of.year - birth.year
        ald: list[int] = []
        conditions: list[str] = []
        flags: list[str] = []
        if age >= 18 and rng.random() < (0.12 if age >= 60 else 0.04):
            ald.append(8)
            conditions.append("E11.9")
        if age >= 50 and rng.random() < 0.25:
            conditions.append("I10")
        if age >= 18 and rng.random() < 0.03:
            ald.append(rng.choice((30, 23, 13, 5)))
        if rng.random() < 0.04:
            flags.append(rng.choice(("risk:grippe", "risk:covid", "risk:pneumocoque")))
        email = ""
        if age >= 18 and rng.random() < 0.4:
            email = f"{_ascii(prenom)}.{_ascii(nom)}{index}@example.org".lower()
        patients.append(
            RosterPatient(
                patient_id=f"P{index:06d}",
                ins=ins,
                nom=nom,
                prenom=prenom,
                birth_date=birth,
                sex=sex,
                ald=tuple(sorted(set(ald))),
                conditions=tuple(conditions),
                flags=tuple(flags),
                opposition=rng.random() < 0.005,
                mssante=f"{ins}@patient.mssante.fr" if rng.random() < 0.2 else "",
                email=email,
                telephone=f"06{rng.randrange(10**8):08d}" if rng.random() < 0.6 else "",
            )
        )
    return patients


def _draw_ins(rng: random.Random, sex: Sex, birth: date, used: set[str]) -> str:
    """A fresh valid matricule: sex, year, month, département, commune, order, key."""
    while True:
        department = rng.choice(DEPARTMENTS)
        commune = rng.randrange(1, 1000)
        order = rng.randrange(1, 1000)
        body = (
            f"{1 if sex == 'M' else 2}{birth.year % 100:02d}{birth.month:02d}"
            f"{department}{commune:03d}{order:03d}"
        )
        numeric = (
            body[:5] + {"2A": "19", "2B": "18"}.get(department, department) + body[7:]
        )
        ins = f"{body}{97 - int(numeric) % 97:02d}"
        if ins in used:
            continue
        used.add(check_ins(ins))  # raises InvalidIns if the generator is wrong
        return ins


def _ascii(text: str) -> str:
    """`text` without its accents (for email addresses)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def write_roster(path: Path, patients: Sequence[RosterPatient]) -> None:
    """Write the roster CSV (UTF-8, `ROSTER_COLUMNS` header) that `fmt-plugin init` reads."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ROSTER_COLUMNS)
        for p in patients:
            writer.writerow(
                (
                    p.patient_id,
                    p.ins,
                    p.nom,
                    p.prenom,
                    p.birth_date.isoformat(),
                    p.sex,
                    ";".join(str(n) for n in p.ald),
                    ";".join(p.conditions),
                    ";".join(p.flags),
                    "1" if p.opposition else "0",
                    p.mssante,
                    p.email,
                    p.telephone,
                )
            )


# --- the messages ---------------------------------------------------------------------------


def control_id(seed: int, index: int) -> str:
    """MSH-10 of message `index` (0-based): unique within a seed, at most 20 characters."""
    return f"B{seed % 100_000}N{index:09d}"


def generate_messages(
    n: int,
    patients: Sequence[RosterPatient],
    seed: int,
    *,
    start: datetime = DEFAULT_START,
    oru_share: float = ORU_SHARE,
    ack_types: tuple[str, str] = ENHANCED_ACK_TYPES,
) -> list[bytes]:
    """`n` HL7 v2.5 messages (UTF-8 bytes, segments ending with `\\r`, not framed).

    Message `i` has MSH-10 `control_id(seed, i)` and MSH-7 `start + 2 i seconds`; its patient
    is drawn uniformly from `patients`. `ack_types` are MSH-15 and MSH-16: `("AL", "NE")`
    by default, as in the public scenario's messages (enhanced mode: an accept ACK, `CA`,
    and no application ACK); `ORIGINAL_ACK_TYPES` leaves both empty (original mode: `AA`).
    """
    if not patients:
        raise ValueError("generate_messages needs at least one patient")
    rng = random.Random(f"messages-{seed}")  # noqa: S311  # synthetic, reproducible
    messages = []
    for index in range(n):
        patient = rng.choice(patients)
        sent = start + timedelta(seconds=2 * index)
        build = _oru if rng.random() < oru_share else _vxu
        sender, message_type, segments = build(rng, patient, sent, index)
        msh = _msh(sender, sent, message_type, control_id(seed, index), ack_types)
        messages.append(("\r".join((msh, *segments)) + "\r").encode("utf-8"))
    return messages


def _segment(name: str, fields: dict[int, str]) -> str:
    """`name|…` with each value at its HL7 field number (1-based), empty fields between."""
    cells = [""] * max(fields)
    for number, value in fields.items():
        cells[number - 1] = value
    return "|".join((name, *cells))


def _msh(
    sender: tuple[str, str],
    sent: datetime,
    message_type: str,
    message_id: str,
    ack_types: tuple[str, str],
) -> str:
    # MSH-1 is the field separator itself, so the segment is written out by hand.
    return (
        f"MSH|^~\\&|{sender[0]}|{sender[1]}|FMT|CABINET|{sent:%Y%m%d%H%M%S}||"
        f"{message_type}|{message_id}|P|2.5|||{ack_types[0]}|{ack_types[1]}|FRA|"
        "UNICODE UTF-8"
    )


def _pid(patient: RosterPatient) -> str:
    return _segment(
        "PID",
        {
            1: "1",
            3: f"{patient.ins}^^^{INS_AUTHORITY}^INS"
            f"~{patient.patient_id}^^^{PRACTICE_AUTHORITY}^PI",
            5: f"{patient.nom}^{patient.prenom}^^^^^L",
            7: f"{patient.birth_date:%Y%m%d}",
            8: patient.sex,
        },
    )


def _oru(
    rng: random.Random, patient: RosterPatient, sent: datetime, index: int
) -> tuple[tuple[str, str], str, list[str]]:
    """A lab result: the sender, MSH-9 and the segments after MSH."""
    diabetic = patient.diabetic
    panels = [panel for panel, _, _ in PANELS]
    weights = [w_diabetic if diabetic else w for _, w, w_diabetic in PANELS]
    codes = list(rng.choices(panels, weights=weights)[0])
    if rng.random() < 0.3:  # an extra analyte: up to 6 OBX
        extra = rng.choice([code for code in ANALYTES if code not in codes])
        codes.append(extra)
    observed = (sent - timedelta(days=rng.randrange(1, 730))).replace(
        hour=rng.randrange(7, 12), minute=rng.choice((0, 15, 30, 45)), second=0
    )
    when = f"{observed:%Y%m%d%H%M}"
    sender = rng.choice(LABS)
    segments = [
        _pid(patient),
        _segment(
            "OBR",
            {1: "1", 2: f"CMD{index}", 3: f"RES{index}", 4: "^BILAN^L", 7: when},
        ),
    ]
    for set_id, code in enumerate(codes, start=1):
        analyte = ANALYTES[code]
        shift = 0.0
        if diabetic and code == "4548-4":
            shift = 1.6
        elif diabetic and code == "1558-6":
            shift = 0.35
        status = rng.choices(_STATUSES, cum_weights=_STATUS_CUM_WEIGHTS)[0]
        value = (
            "" if status == "X" else f"{analyte.draw(rng, shift):.{analyte.decimals}f}"
        )
        flag = ""
        if value:
            number = float(value)
            flag = (
                "H" if number > analyte.high else "L" if number < analyte.low else "N"
            )
        segments.append(
            _segment(
                "OBX",
                {
                    1: str(set_id),
                    2: "NM",
                    3: f"{analyte.loinc}^{analyte.text}^LN",
                    5: value,
                    6: analyte.unit,
                    7: f"{analyte.low:g}-{analyte.high:g}",
                    8: flag,
                    11: status,
                    14: when,
                },
            )
        )
    if rng.random() < 0.05:
        segments.append("NTE|1|L|Resultat controle sur un second prelevement")
    return sender, "ORU^R01^ORU_R01", segments


def _vxu(
    rng: random.Random, patient: RosterPatient, sent: datetime, index: int
) -> tuple[tuple[str, str], str, list[str]]:
    """A vaccination: the sender, MSH-9 and the segments after MSH."""
    administered = sent.date() - timedelta(days=rng.randrange(0, 730))
    age = max(patient.age(administered), 0)
    choices = [v for v in VACCINES if v[0] <= age <= v[1]] or [
        v for v in VACCINES if v[0] <= 15 <= v[1]
    ]
    _, _, cvx, text, _ = rng.choices(choices, weights=[v[4] for v in choices])[0]
    historical = rng.random() < 0.05
    notes = (
        "01^Historique^NIP001" if historical else "00^Nouvelle administration^NIP001"
    )
    completion = "CP" if rng.random() < 0.98 else rng.choice(("RE", "NA"))
    sender = rng.choice(VACCINATORS)
    segments = [
        _pid(patient),
        _segment("ORC", {1: "RE", 3: f"IMM{index}"}),
        _segment(
            "RXA",
            {
                1: "0",
                2: "1",
                3: f"{administered:%Y%m%d}",
                5: f"{cvx}^{text}^CVX",
                6: "0.5" if completion == "CP" else "999",
                7: "mL^mL^UCUM" if completion == "CP" else "",
                9: notes,
                15: f"LOT{rng.randrange(10**6):06d}" if completion == "CP" else "",
                20: completion,
                21: "A",
            },
        ),
    ]
    if completion == "CP" and rng.random() < 0.5:
        segments.append("RXR|IM^Intramusculaire^HL70162|LD^Deltoide gauche^HL70163")
    return sender, "VXU^V04^VXU_V04", segments


# --- files ----------------------------------------------------------------------------------


def frame(message: bytes) -> bytes:
    """The MLLP frame of `message`: `0x0B` + message + `0x1C 0x0D`."""
    return START_BLOCK + message + END_BLOCK


def write_messages_file(
    path: Path, messages: Sequence[bytes], framing: Framing = "mllp"
) -> int:
    """Write all `messages` to one file and return its size in bytes.

    `framing="mllp"` (default): one MLLP frame after the other. `"lines"`: the messages
    separated by `\\r\\n` (each message's segments still end with `\\r`).
    """
    with path.open("wb") as out:
        if framing == "mllp":
            for message in messages:
                out.write(frame(message))
        elif framing == "lines":
            for message in messages:
                out.write(message)
                out.write(b"\r\n")
        else:
            raise ValueError(f"unknown framing {framing!r}")
    return path.stat().st_size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out_dir", type=Path, help="directory for roster.csv, messages.hl7"
    )
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--framing", choices=("mllp", "lines"), default="mllp")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    patients = generate_patients(args.patients, args.seed)
    write_roster(args.out_dir / "roster.csv", patients)
    messages = generate_messages(args.messages, patients, args.seed)
    size = write_messages_file(args.out_dir / "messages.hl7", messages, args.framing)
    print(
        f"{len(patients)} patients -> {args.out_dir / 'roster.csv'}; "
        f"{len(messages)} messages ({size:,} bytes, {args.framing}) -> "
        f"{args.out_dir / 'messages.hl7'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
