"""A synthetic practice for the HL7 benchmarks: a roster CSV and HL7 v2.5 messages about it.

Everything is drawn from `random.Random(seed)`, so the same seed gives byte-identical files.
The patients, the codes and the message layout are those of the demo practice
(`fmt_plugin.demo`: `population`, `catalog`, `hl7_messages`); what is drawn here is the
benchmark's own traffic, uniform over the patients rather than a clinical history.

- **Roster**: the CSV of the built-in `csv_roster` adapter (header `ROSTER_COLUMNS`). Every
  patient has a valid 15-character matricule INS (NIR + key, checked with
  `fmt_plugin.ins.check_ins`), a birth date, a sex, and, for some, ALD (8: diabetes),
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
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from fmt_plugin.adapters.csv_roster import ROSTER_COLUMNS
from fmt_plugin.demo import catalog
from fmt_plugin.demo.hl7_messages import (
    ENHANCED_ACK_TYPES,
    ORIGINAL_ACK_TYPES,
    control_id,
    message,
)
from fmt_plugin.demo.population import generate_population
from fmt_plugin.demo.records import LabReport, Vaccination
from fmt_plugin.mllp.framing import END_BLOCK, START_BLOCK, frame
from fmt_plugin.model import Patient
from fmt_plugin.rules.dates import completed_years

__all__ = [
    "END_BLOCK",
    "ENHANCED_ACK_TYPES",
    "ORIGINAL_ACK_TYPES",
    "START_BLOCK",
    "RosterPatient",
    "frame",
    "generate_messages",
    "generate_patients",
    "write_messages_file",
    "write_roster",
]

DEFAULT_AS_OF = date(2026, 3, 15)
#: MSH-7 of the first message; each next message is 2 s later.
DEFAULT_START = datetime(2026, 3, 15, 8, 0, 0)  # noqa: DTZ001 (HL7 local time, no zone)
ORU_SHARE = 0.70
#: MSH-10 prefix of the benchmark's messages (the demo's are `D…`).
CONTROL_PREFIX = "B"

RosterPatient = Patient
Framing = Literal["mllp", "lines"]

# fmt: off
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

#: (min age, max age, CVX, weight) of the vaccines sent in VXU messages.
VACCINES_BY_AGE = (
    (0, 1, "146", 30.0), (0, 1, "133", 20.0), (0, 1, "163", 15.0), (0, 2, "03", 15.0),
    (0, 2, "108", 10.0), (11, 14, "165", 40.0), (11, 14, "115", 10.0),
    (15, 64, "150", 20.0), (15, 64, "309", 10.0), (15, 64, "115", 8.0),
    (25, 64, "113", 6.0), (65, 120, "168", 30.0), (65, 120, "197", 10.0),
    (65, 120, "309", 20.0), (65, 120, "216", 8.0), (65, 120, "187", 6.0),
)
# fmt: on


# --- the roster -----------------------------------------------------------------------------


def generate_patients(
    n: int, seed: int, *, as_of: date = DEFAULT_AS_OF
) -> list[RosterPatient]:
    """`n` patients with distinct valid INS, ids `P000001`…; the same seed, the same list."""
    return generate_population(n, seed, as_of, source="csv_roster")


def write_roster(path: Path, patients: Sequence[RosterPatient]) -> None:
    """Write the roster CSV (UTF-8, `ROSTER_COLUMNS` header) that `fmt-plugin init` reads."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ROSTER_COLUMNS)
        for p in patients:
            writer.writerow(
                (
                    p.patient_id,
                    p.ins or "",
                    p.nom,
                    p.prenom,
                    p.birth_date.isoformat() if p.birth_date else "",
                    p.sex or "",
                    ";".join(str(n) for n in sorted(p.ald)),
                    ";".join(sorted(p.conditions)),
                    ";".join(sorted(p.flags)),
                    "1" if p.opposition else "0",
                    p.mssante or "",
                    p.email or "",
                    p.telephone or "",
                )
            )


# --- the messages ---------------------------------------------------------------------------


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

    Message `i` has MSH-10 `control_id("B", seed, i)` and MSH-7 `start + 2 i seconds`; its
    patient is drawn uniformly from `patients`. `ack_types` are MSH-15 and MSH-16:
    `("AL", "NE")` by default, as in the public scenario's messages (enhanced mode: an accept
    ACK, `CA`, and no application ACK); `ORIGINAL_ACK_TYPES` leaves both empty (original
    mode: `AA`).
    """
    if not patients:
        raise ValueError("generate_messages needs at least one patient")
    rng = random.Random(f"messages-{seed}")  # noqa: S311  # synthetic, reproducible
    messages = []
    for index in range(n):
        patient = rng.choice(patients)
        sent = start + timedelta(seconds=2 * index)
        draw = _lab_report if rng.random() < oru_share else _vaccination
        record = draw(rng, patient, sent)
        message_id = control_id(CONTROL_PREFIX, seed, index)
        messages.append(message(record, message_id, index, ack_types))
    return messages


def _diabetic(patient: Patient) -> bool:
    return 8 in patient.ald or "E11.9" in patient.conditions


def _lab_report(rng: random.Random, patient: Patient, sent: datetime) -> LabReport:
    """A report of one panel (and maybe one more analyte) observed in the last two years."""
    diabetic = _diabetic(patient)
    panels = [panel for panel, _, _ in PANELS]
    weights = [w_diabetic if diabetic else w for _, w, w_diabetic in PANELS]
    codes = list(rng.choices(panels, weights=weights)[0])
    if rng.random() < 0.3:  # an extra analyte: up to 6 OBX
        codes.append(rng.choice([c for c in catalog.ANALYTES if c not in codes]))
    observed = (sent - timedelta(days=rng.randrange(1, 730))).replace(
        hour=rng.randrange(7, 12), minute=rng.choice((0, 15, 30, 45)), second=0
    )
    sender = rng.choice(catalog.LABS)
    observations = []
    for code in codes:
        shift = catalog.DIABETIC_SHIFTS.get(code, 0.0) if diabetic else 0.0
        status = rng.choices(_STATUSES, cum_weights=_STATUS_CUM_WEIGHTS)[0]
        analyte = catalog.ANALYTES[code]
        observations.append(analyte.observe(rng, shift=shift, status=status))
    note = "Resultat controle sur un second prelevement" if rng.random() < 0.05 else ""
    return LabReport(
        patient=patient,
        sender=sender,
        observed=observed,
        sent=sent,
        observations=tuple(observations),
        note=note,
    )


def _vaccination(rng: random.Random, patient: Patient, sent: datetime) -> Vaccination:
    """A vaccine suited to the patient's age, given in the last two years."""
    administered = sent.date() - timedelta(days=rng.randrange(0, 730))
    birth = patient.birth_date or administered
    age = max(completed_years(birth, administered), 0)
    choices = [v for v in VACCINES_BY_AGE if v[0] <= age <= v[1]] or [
        v for v in VACCINES_BY_AGE if v[0] <= 15 <= v[1]
    ]
    _, _, cvx, _ = rng.choices(choices, weights=[v[3] for v in choices])[0]
    historical = rng.random() < 0.05
    completion = "CP" if rng.random() < 0.98 else rng.choice(("RE", "NA"))
    sender = rng.choice(catalog.VACCINATORS)
    lot = f"LOT{rng.randrange(10**6):06d}" if completion == "CP" else ""
    return Vaccination(
        patient=patient,
        sender=sender,
        given=administered,
        sent=sent,
        cvx=cvx,
        text=catalog.VACCINES[cvx],
        lot=lot,
        completion=completion,
        historical=historical,
        with_route=completion == "CP" and rng.random() < 0.5,
    )


# --- files ----------------------------------------------------------------------------------


def write_messages_file(
    path: Path, messages: Sequence[bytes], framing: Framing = "mllp"
) -> int:
    """Write all `messages` to one file and return its size in bytes.

    `framing="mllp"` (default): one MLLP frame after the other. `"lines"`: the messages
    separated by `\\r\\n` (each message's segments still end with `\\r`).
    """
    with path.open("wb") as out:
        if framing == "mllp":
            for item in messages:
                out.write(frame(item))
        elif framing == "lines":
            for item in messages:
                out.write(item)
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
